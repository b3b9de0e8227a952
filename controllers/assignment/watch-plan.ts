// What the webhook-free assignment (a ring's `spec.assignment: Watch`) watches, as pure functions: per
// resource of the ring (controlled resources too) one metadata-only watch of the objects that carry no shard
// label, so that the sharder holds only the ring's unassigned objects, never all of them.
import { shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { ownerChain, type LevelOwners } from '../../sharding/chain.ts';
import type { KeySource } from '../../sharding/keys.ts';
import { resourceName } from '../../sharding/resource-name.ts';

/** Whether the sharder assigns the ring's objects by watching them rather than in its admission webhook. */
export function assignsByWatch(ring: ControllerRing): boolean {
  return ring.spec.assignment === 'Watch' && ring.metadata?.deletionTimestamp === undefined;
}

/**
 * A resource of a ring to watch; `controlled` ones take their hash key from their controller, and below a
 * chain's first level from the chain's root, through `owners` (sharding/chain.ts; [] for the first level).
 */
export interface WatchedResource {
  group: string;
  resource: string;
  controlled: boolean;
  owners?: LevelOwners;
}

/** Every resource of the ring, each once, as the webhook configuration intercepts them. */
export function watchedResources(ring: ControllerRing): WatchedResource[] {
  return ring.spec.resources.flatMap((entry) => [
    { group: entry.group ?? '', resource: entry.resource, controlled: false },
    ...(entry.controlledResources ?? []).map((c) => {
      const level = { group: c.group ?? '', resource: c.resource };
      return { ...level, controlled: true, owners: ownerChain(entry, level) ?? [] };
    }),
  ]);
}

/** The resource as kubectl names it (`configmaps`, `deployments.apps`): the id of a ring's watch. */
export function resourceId(watched: Pick<WatchedResource, 'group' | 'resource'>): string {
  return resourceName(watched);
}

/**
 * What decides a running watch: a change (the resource's version, kind, role in the ring, or chain) restarts
 * it.
 */
export function watchSignature(watched: WatchedResource, version: string, kind: string): string {
  const { owners = [] } = watched;
  const chain = owners === 'ChainTooDeep' ? owners : owners.map(resourceId).join('<');
  return `${version}/${kind}/${String(watched.controlled)}/${chain}`;
}

/** Where a watched object's hash key comes from. */
export function keySource(watched: WatchedResource, kind: string): KeySource {
  return watched.controlled ? { controlled: true } : { controlled: false, group: watched.group, kind };
}

/**
 * The selectors of a ring's watch: objects without the ring's shard label, outside the namespaces never
 * sharded (a field selector can leave those out at the API server; the ring's namespaceSelector cannot be
 * expressed in a list request, so objects of unselected namespaces are watched but never assigned).
 */
export function unassignedSelectors(
  ring: string,
  excludedNamespaces: readonly string[],
): { labelSelector: string; fieldSelector: string | undefined } {
  const fieldSelector = excludedNamespaces.map((namespace) => `metadata.namespace!=${namespace}`).join(',');
  return { labelSelector: `!${shardLabel(ring)}`, fieldSelector: fieldSelector || undefined };
}

/** One object of one ring's watch, as a work-queue key: `ring:resource:namespace/name` (no part has a ':'). */
export function assignmentKey(ring: string, resource: string, object: string): string {
  return `${ring}:${resource}:${object}`;
}

export function parseAssignmentKey(key: string): { ring: string; resource: string; object: string } {
  const [ring = '', resource = '', ...object] = key.split(':');
  return { ring, resource, object: object.join(':') };
}
