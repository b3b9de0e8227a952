import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

/** The metadata a key is made of; a Pick, so that client-node's V1ObjectMeta (times as Dates) fits too. */
export type KeyMetadata = Pick<IObjectMeta, 'name' | 'generateName' | 'namespace' | 'ownerReferences'>;

/** Which of a ring's resources an object belongs to: this decides where its hash key comes from. */
export type KeySource =
  | { readonly controlled: false; readonly group: string; readonly kind: string }
  | { readonly controlled: true };

/** An object's hash key, or why it has none (reason in CamelCase, message saying what to do). */
export type KeyResult =
  | { readonly key: string }
  | { readonly reason: 'NoName' | 'NoControllerReference'; readonly message: string };

/**
 * The hash key of an object of a ring: `<group>/<Kind>/<namespace>/<name>`, for a controlled object the
 * same built from its controller so that owner and owned objects land on the same shard.
 */
export function hashKey(metadata: KeyMetadata, source: KeySource): KeyResult {
  return source.controlled ? controlledKey(metadata) : ownKey(metadata, source.group, source.kind);
}

function ownKey(metadata: KeyMetadata, group: string, kind: string): KeyResult {
  const { name, generateName } = metadata;
  if (!name) {
    // The API server generates the name only after admission, so the webhook cannot know the key yet.
    const what = generateName ? `has generateName "${generateName}" but no name yet` : 'has no name';
    return {
      reason: 'NoName',
      message: `${kind} ${what}, so it has no hash key at admission: the sharder assigns it on its next sync; set metadata.name to have it assigned at creation`,
    };
  }
  return { key: `${group}/${kind}/${metadata.namespace ?? ''}/${name}` };
}

function controlledKey(metadata: KeyMetadata): KeyResult {
  const owner = metadata.ownerReferences?.find((reference) => reference.controller === true);
  if (!owner) {
    return {
      reason: 'NoControllerReference',
      message:
        'object has no ownerReference with controller: true, so it is not assigned to a shard; set its controller reference to an object of the ring to have it assigned with its owner',
    };
  }
  return { key: `${groupOf(owner.apiVersion)}/${owner.kind}/${metadata.namespace ?? ''}/${owner.name}` };
}

/** 'apps/v1' -> 'apps'; the core group's 'v1' -> ''. */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
