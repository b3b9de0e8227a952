// An example sharded controller on built-in kinds only: for every ConfigMap of its ring it keeps an owned
// Secret holding a digest of the ConfigMap's data. The ConfigMap is the ring resource, the Secret a
// controlled resource, so both paths of the protocol are exercised. With `serviceAccounts` it also keeps, per
// Secret, a ServiceAccount controlled by the Secret that carries the digest too: a chain of controllers
// (ConfigMap → Secret → ServiceAccount), whose every level the shard of its ConfigMap reconciles.
import { createHash } from 'node:crypto';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type {
  ControlledResource,
  KubeObject,
  ReconcileContext,
  ReconcileObserver,
  ShardedController,
} from 'controller-rings/shard';

export const fieldManager = 'configmap-digest';
const secrets = { group: '', resource: 'secrets' };
const serviceAccounts = { group: '', resource: 'serviceaccounts', owner: secrets };

/** The annotation of the digest on a ServiceAccount. */
export const digestAnnotation = 'configmap-digest.controller-rings.io/digest';

/** The Secret's name for a ConfigMap; its ServiceAccount has the same name. */
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
  /** Also keep a ServiceAccount per Secret, controlled by it (a second level of the chain); default off. */
  serviceAccounts?: boolean;
  observer?: ReconcileObserver;
}

/** One object a reconcile keeps, controlled by `owner`. */
interface Controlled<T extends KubeObject> {
  resource: ControlledResource;
  kind: string;
  namespace: string;
  name: string;
  owner: KubeObject;
  /** Whether the object found is as it should be. */
  current(object: T): boolean;
  /** The object as it should be: `found` changed, or (found undefined) what a new one carries. */
  desired(found: T | undefined): T;
}

/**
 * Creates the object if absent, or updates what was read (with its resourceVersion) when it is not current;
 * resolves with the object as it is now.
 */
async function keep<T extends KubeObject>(
  { client, controlled, logger, shardLabels, signal }: ReconcileContext,
  level: Controlled<T>,
): Promise<T> {
  const { resource, kind, namespace, name, owner } = level;
  const found = (await controlled(resource, namespace, name)) as T | undefined;
  if (found !== undefined && level.current(found)) return found;
  const collection = `/api/v1/namespaces/${namespace}/${resource.resource}`;
  if (found === undefined) {
    // Create if absent, as an ordinary controller does: an object that exists but is missing from what
    // controlled() answers fails with 409 AlreadyExists.
    const desired = level.desired(undefined);
    const created = await client.request<T>({
      method: 'POST',
      path: collection,
      query: { fieldManager },
      body: {
        ...desired,
        apiVersion: 'v1',
        kind,
        metadata: {
          ...desired.metadata,
          name,
          namespace,
          // Created on this shard: the shard of its controller, so that it arrives with it.
          labels: shardLabels,
          ownerReferences: [
            {
              apiVersion: owner.apiVersion ?? 'v1',
              kind: owner.kind ?? '',
              name: owner.metadata?.name ?? '',
              uid: owner.metadata?.uid ?? '',
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
      },
      signal,
    });
    logger.info({ [kind.toLowerCase()]: name }, `created digest ${kind.toLowerCase()}`);
    return created;
  }
  // Update what was read, with its resourceVersion: a stale copy fails with 409 Conflict.
  const updated = await client.request<T>({
    method: 'PUT',
    path: `${collection}/${name}`,
    query: { fieldManager },
    body: level.desired(found),
    signal,
  });
  logger.info({ [kind.toLowerCase()]: name }, `updated digest ${kind.toLowerCase()}`);
  return updated;
}

export function configMapDigestController({
  workers = 4,
  serviceAccounts: withServiceAccounts = false,
  observer,
}: ConfigMapDigestOptions = {}): ShardedController<IConfigMap> {
  return {
    name: 'configmap-digest',
    resource: { group: '', resource: 'configmaps' },
    controlledResources: withServiceAccounts ? [secrets, serviceAccounts] : [secrets],
    concurrency: workers,
    ...(observer === undefined ? {} : { observer }),
    async reconcile(configMap, context) {
      const { name = '', namespace = '' } = configMap.metadata ?? {};
      const digest = digestOf(configMap);
      const encoded = btoa(digest);
      const secret = await keep<KubeObject & Pick<ISecret, 'data'>>(context, {
        resource: secrets,
        kind: 'Secret',
        namespace,
        name: digestSecretName(name),
        owner: { ...configMap, apiVersion: 'v1', kind: 'ConfigMap' },
        current: (found) => found.data?.digest === encoded,
        desired: (found) => ({ ...found, data: { ...found?.data, digest: encoded } }),
      });
      if (!withServiceAccounts) return;
      await keep(context, {
        resource: serviceAccounts,
        kind: 'ServiceAccount',
        namespace,
        name: digestSecretName(name),
        owner: { ...secret, apiVersion: 'v1', kind: 'Secret' },
        current: (found) => found.metadata?.annotations?.[digestAnnotation] === digest,
        desired: (found) => ({
          ...found,
          metadata: {
            ...found?.metadata,
            annotations: { ...found?.metadata?.annotations, [digestAnnotation]: digest },
          },
        }),
      });
    },
  };
}
