// An example sharded controller on built-in kinds only: for every ConfigMap of its ring it keeps an owned
// Secret holding a digest of the ConfigMap's data. The ConfigMap is the ring resource, the Secret a
// controlled resource, so both paths of the protocol are exercised.
import { createHash } from 'node:crypto';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { patchTypes } from '../../runtime/rest.ts';
import type { ReconcileObserver, ShardedController } from '../../shard/shard.ts';

export const fieldManager = 'configmap-digest';
const secrets = { group: '', resource: 'secrets' };

/** The Secret's name for a ConfigMap. */
export function digestSecretName(configMap: string): string {
  return `${configMap}-digest`;
}

/** A digest of a ConfigMap's data that does not depend on key order. */
export function digestOf(configMap: Pick<IConfigMap, 'data' | 'binaryData'>): string {
  const hash = createHash('sha256');
  for (const [kind, entries] of [
    ['data', configMap.data],
    ['binaryData', configMap.binaryData],
  ] as const) {
    for (const key of Object.keys(entries ?? {}).sort())
      hash.update(`${kind}\0${key}\0${entries?.[key] ?? ''}\0`);
  }
  return hash.digest('hex');
}

export function configMapDigestController(observer?: ReconcileObserver): ShardedController<IConfigMap> {
  return {
    name: 'configmap-digest',
    resource: { group: '', resource: 'configmaps' },
    controlledResources: [secrets],
    concurrency: 4,
    ...(observer === undefined ? {} : { observer }),
    async reconcile(configMap, { client, controlled, logger, shardLabels }) {
      const { name = '', namespace = '', uid = '' } = configMap.metadata ?? {};
      const digest = digestOf(configMap);
      const secretName = digestSecretName(name);
      const current = controlled(secrets, namespace, secretName) as ISecret | undefined;
      if (current?.data?.digest === btoa(digest)) return;
      // Server-side apply: creates the Secret or updates only the fields this controller owns.
      await client.request({
        method: 'PATCH',
        path: `/api/v1/namespaces/${namespace}/secrets/${secretName}`,
        query: { fieldManager, force: true },
        contentType: patchTypes.apply,
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: {
            name: secretName,
            namespace,
            labels: shardLabels,
            ownerReferences: [
              { apiVersion: 'v1', kind: 'ConfigMap', name, uid, controller: true, blockOwnerDeletion: true },
            ],
          },
          stringData: { digest },
        },
      });
      logger.info({ digest }, 'updated digest secret');
    },
  };
}
