// The protocol's names (../shared/design.md): API group and version, labels on sharded objects and shard Leases.

export const group = 'sharding.controller-rings.io';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;
export const kind = 'ControllerRing';
export const plural = 'controllerrings';
/** The REST path of the ControllerRing collection; a ring's own is `${ringsPath}/<name>`. */
export const ringsPath = `/apis/${group}/${version}/${plural}`;

/** Label on a shard Lease naming the ring the shard belongs to. */
export const ringLabel = 'controller-rings.io/ring';
/** Label the sharder writes on a shard Lease with the state it computed (for people; no logic reads it). */
export const stateLabel = 'controller-rings.io/state';

/** Label key holding the name of the shard an object of `ring` is assigned to. */
export function shardLabel(ring: string): string {
  return `shard.controller-rings.io/${ring}`;
}

/** Label key by which the sharder asks the current shard of `ring` to let go of an object. */
export function drainLabel(ring: string): string {
  return `drain.controller-rings.io/${ring}`;
}

/** Value of the drain label. */
export const drainValue = 'true';

/** Lease duration a shard uses unless configured otherwise, and the one assumed when a Lease has none. */
export const defaultLeaseDurationSeconds = 15;

/**
 * The namespaces a ring trusts for its shard Leases when spec.shardLeaseNamespaces is not set: the CRD's
 * default, which the API server fills in; for rings built in code.
 */
export const defaultShardLeaseNamespaces: readonly string[] = ['default'];

/**
 * Group/resources a ring may name in all, resources and controlledResources together (a CRD rule): the sharder's
 * admission policy checks its access to each one its webhook intercepts, and the API server's cost limit for one
 * policy evaluation allows 24 such checks (cdk8s/sharder-admission-policy.ts).
 */
export const maxRingGroupResources = 24;

/** The ring's condition that tells whether it assigns objects to shards. */
export const readyCondition = 'Ready';

/**
 * Whether the sync could follow every object below the first level of the ring's chains to its root. Apart
 * from Ready: such objects (e.g. Pods of a deleted ReplicaSet, the garbage collector's) do not stop the ring.
 */
export const chainsResolvedCondition = 'ChainsResolved';
