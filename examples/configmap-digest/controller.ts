// An example sharded controller on built-in kinds only: for every ConfigMap of its ring it keeps an owned
// Secret holding a digest of the ConfigMap's data. The ConfigMap is the ring resource, the Secret a
// controlled resource, so both paths of the protocol are exercised.
import { createHash } from 'node:crypto';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { ReconcileObserver, ShardedController } from 'controller-rings/shard';

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

export interface ConfigMapDigestOptions {
  /** ConfigMaps reconciled at once; default 4. */
  workers?: number;
  observer?: ReconcileObserver;
}

export function configMapDigestController({
  workers = 4,
  observer,
}: ConfigMapDigestOptions = {}): ShardedController<IConfigMap> {
  return {
    name: 'configmap-digest',
    resource: { group: '', resource: 'configmaps' },
    controlledResources: [secrets],
    concurrency: workers,
    ...(observer === undefined ? {} : { observer }),
    async reconcile(configMap, { client, controlled, logger, shardLabels, signal }) {
      const { name = '', namespace = '', uid = '' } = configMap.metadata ?? {};
      const digest = digestOf(configMap);
      const secretName = digestSecretName(name);
      const current = (await controlled(secrets, namespace, secretName)) as ISecret | undefined;
      if (current?.data?.digest === btoa(digest)) return;
      const collection = `/api/v1/namespaces/${namespace}/secrets`;
      if (current === undefined) {
        // Create if absent, as an ordinary controller does: a Secret that exists but is missing from what
        // controlled() answers fails with 409 AlreadyExists.
        await client.request({
          method: 'POST',
          path: collection,
          query: { fieldManager },
          body: {
            apiVersion: 'v1',
            kind: 'Secret',
            metadata: {
              name: secretName,
              namespace,
              labels: shardLabels,
              ownerReferences: [
                {
                  apiVersion: 'v1',
                  kind: 'ConfigMap',
                  name,
                  uid,
                  controller: true,
                  blockOwnerDeletion: true,
                },
              ],
            },
            data: { digest: btoa(digest) },
          },
          signal,
        });
        logger.info({ digest }, 'created digest secret');
        return;
      }
      // Update what was read, with its resourceVersion: a stale copy fails with 409 Conflict.
      await client.request({
        method: 'PUT',
        path: `${collection}/${secretName}`,
        query: { fieldManager },
        body: { ...current, data: { ...current.data, digest: btoa(digest) } },
        signal,
      });
      logger.info({ digest }, 'updated digest secret');
    },
  };
}
