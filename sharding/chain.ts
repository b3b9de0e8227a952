// Chains of controllers (a Deployment controls ReplicaSets, which control Pods): every level of a chain that a
// ring declares (spec.resources[].controlledResources[].owner) is assigned to the shard of the chain's root, the
// ring resource's object. A level-n object's hash key is its root's key: found by reading its controllers up
// the chain, one metadata read per level above the first (the reader is given, so that this stays pure), each
// checked by uid; the first level's controller reference names the root itself (keys.ts). Nothing is watched.
import type { RingResource } from '../api/v1alpha1/index.ts';
import { groupOf, hashKey, type KeyMetadata, type KeyResult } from './keys.ts';
import { resourceName } from './resource-name.ts';

/** A resource by API group (empty for the core group) and plural name. */
export interface ChainResource {
  readonly group: string;
  readonly resource: string;
}

/** The deepest level below a ring resource that a chain may reach (the CRD's rule, checked here again). */
export const maxChainDepth = 3;

/**
 * What a level's controller is, as far as the chain needs it: its uid and its own controller reference, and the
 * kind of the resource it was read from.
 */
export type OwnerMetadata = Pick<KeyMetadata, 'ownerReferences'> & {
  readonly uid?: string | undefined;
  readonly kind?: string | undefined;
};

/**
 * Reads the metadata of `name` of `owner` (in `namespace` if that resource is namespaced); undefined when it
 * does not exist.
 */
export type ReadOwner = (
  owner: ChainResource,
  namespace: string | undefined,
  name: string,
) => Promise<OwnerMetadata | undefined>;

/** A level-n object's key, or why it has none: keys.ts's reasons, and those of a chain that cannot be followed. */
export type ChainKeyResult =
  | KeyResult
  | {
      readonly reason: 'OwnerNotInChain' | 'OwnerNotFound' | 'ChainTooDeep';
      readonly message: string;
    };

/** A chain level's owners up to its root (ownerChain): [] for the first level, or why they cannot be followed. */
export type LevelOwners = readonly ChainResource[] | 'ChainTooDeep';

/** Why an object of `resource` (kubectl's name) whose chain is too deep, or loops, has no key. */
export function chainTooDeep(resource: string): ChainKeyResult {
  return {
    reason: 'ChainTooDeep',
    message: `the chain of controllers above ${resource} is deeper than the sharder follows (${String(maxChainDepth)} levels) or loops, so the object is not assigned to a shard; shorten the chain in the ControllerRing`,
  };
}

/**
 * The owners above `controlled` in `entry`'s chain, nearest first, up to (without) the ring resource: [] for
 * the first level, whose controller is the ring resource's object. undefined when `entry` does not list it.
 * A chain deeper than maxChainDepth, or a loop (both rejected by the CRD), gives `ChainTooDeep`.
 */
export function ownerChain(
  entry: Pick<RingResource, 'controlledResources'>,
  controlled: ChainResource,
): LevelOwners | undefined {
  const find = (wanted: ChainResource) =>
    entry.controlledResources?.find(
      (candidate) => (candidate.group ?? '') === wanted.group && candidate.resource === wanted.resource,
    );
  let level = find(controlled);
  if (level === undefined) return undefined;
  const owners: ChainResource[] = [];
  while (level.owner !== undefined) {
    if (owners.length + 1 >= maxChainDepth) return 'ChainTooDeep';
    const owner: ChainResource = { group: level.owner.group ?? '', resource: level.owner.resource };
    owners.push(owner);
    level = find(owner);
    // An owner the entry does not list (the CRD rejects it): the chain cannot be followed.
    if (level === undefined) return 'ChainTooDeep';
  }
  return owners;
}

/** How deep `controlled` is below its ring resource (1 for the first level), for leaf-first ordering. */
export function chainLevel(
  entry: Pick<RingResource, 'controlledResources'>,
  controlled: ChainResource,
): number {
  const owners = ownerChain(entry, controlled);
  return Array.isArray(owners) ? owners.length + 1 : maxChainDepth;
}

/**
 * The hash key of an object whose controllers, nearest first, are objects of `owners` (ownerChain): its
 * root's key. Each owner is read (`read`) by the name of the controller reference and must have its uid: an
 * owner deleted and created anew under the same name is not this object's controller.
 */
export async function chainKey(
  metadata: KeyMetadata,
  owners: readonly ChainResource[],
  read: ReadOwner,
): Promise<ChainKeyResult> {
  const { namespace } = metadata;
  let current: Pick<KeyMetadata, 'ownerReferences'> = metadata;
  for (const owner of owners) {
    const reference = current.ownerReferences?.find((candidate) => candidate.controller === true);
    if (reference === undefined) return hashKey(current, { controlled: true });
    const what = `its controller ${reference.kind} ${namespace ? `${namespace}/` : ''}${reference.name}`;
    const notInChain = {
      reason: 'OwnerNotInChain',
      message: `${what} (${reference.apiVersion}) is not of ${resourceName(owner)}, the owner the ring's chain declares, so the object is not assigned to a shard; correct the chain's owner in the ControllerRing or the object's controller reference`,
    } as const;
    if (groupOf(reference.apiVersion) !== owner.group) return notInChain;
    const found = await read(owner, namespace, reference.name);
    // Another kind of the same group (a StatefulSet where the chain says replicasets.apps).
    if (found?.kind !== undefined && found.kind !== reference.kind) return notInChain;
    if (found === undefined || found.uid !== reference.uid) {
      return {
        reason: 'OwnerNotFound',
        message: `${what} (uid ${reference.uid}) does not exist as ${resourceName(owner)}, so the object's chain has no root and it is not assigned to a shard; the garbage collector deletes an object whose controller is gone`,
      };
    }
    current = found;
  }
  // The first level: its controller reference names the ring resource's object, the root.
  return hashKey({ ...current, namespace }, { controlled: true });
}
