// The ring's status (Kubernetes API conventions): counts of shards and a Ready condition whose reason and
// message say what is wrong and what to do.
import type { Condition, ControllerRing, ControllerRingStatus } from '../../api/v1alpha1/index.ts';
import { availableShards, type ShardMember } from '../../sharding/membership.ts';

/** Something that keeps the ring from working, e.g. a resource the API server does not serve. */
export interface RingProblem {
  /** CamelCase, e.g. ResourceNotFound, Forbidden. */
  reason: string;
  message: string;
}

export const readyCondition = 'Ready';

function readyState(ring: string, members: readonly ShardMember[], problems: readonly RingProblem[]) {
  const first = problems[0];
  if (first !== undefined) {
    return {
      status: 'False' as const,
      reason: first.reason,
      message: problems.map((p) => p.message).join('; '),
    };
  }
  const available = availableShards(members).length;
  if (available === 0) {
    return {
      status: 'False' as const,
      reason: 'NoAvailableShards',
      message:
        members.length === 0
          ? `no shard has joined ring ${ring}: start the sharded controller (its shard Leases carry the label controller-rings.io/ring=${ring})`
          : `none of the ${members.length} shards of ring ${ring} is available: check why the sharded controller stopped renewing its Leases`,
    };
  }
  return {
    status: 'True' as const,
    reason: 'ShardsAvailable',
    message: `${available} of ${members.length} shards are available`,
  };
}

/** The status the ring should have; lastTransitionTime moves only when the condition's status changes. */
export function desiredStatus(
  ring: ControllerRing,
  members: readonly ShardMember[],
  problems: readonly RingProblem[],
  now: Date,
): ControllerRingStatus {
  const name = ring.metadata?.name ?? '';
  const generation = ring.metadata?.generation;
  const ready = readyState(name, members, problems);
  const previous = ring.status?.conditions?.find((condition) => condition.type === readyCondition);
  const condition: Condition = {
    type: readyCondition,
    ...ready,
    lastTransitionTime:
      previous?.status === ready.status
        ? previous.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
  const others = (ring.status?.conditions ?? []).filter((c) => c.type !== readyCondition);
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    shards: members.length,
    availableShards: availableShards(members).length,
    conditions: [...others, condition],
  };
}
