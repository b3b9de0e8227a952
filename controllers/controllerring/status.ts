// The ring's status (Kubernetes API conventions): counts of shards (of all, and of the canary shards) and a
// Ready condition whose reason and message say what is wrong and what to do, or how the ring splits its objects;
// and, for a ring that declares chains of controllers, a ChainsResolved condition from the sync's findings.
import {
  chainsResolvedCondition,
  readyCondition,
  type Condition,
  type ControllerRing,
  type ControllerRingStatus,
} from '../../api/v1alpha1/index.ts';
import { ringSplit } from '../../sharding/canary.ts';
import {
  availableShards,
  trustedNamespaces,
  type LeftOutLease,
  type RingMembership,
} from '../../sharding/membership.ts';
import type { ChainFindings } from '../sync/unresolved-chains.ts';

/** Something that keeps the ring from working, e.g. a resource the API server does not serve. */
export interface RingProblem {
  /** CamelCase, e.g. ResourceNotFound, Forbidden. */
  reason: string;
  message: string;
}

/** How many Leases a message names before it counts the rest: it stays short however many there are. */
const namedLeases = 3;

/** 'a/x, b/y and c/z', or 'a/x, b/y, c/z and 4 more'. */
function leaseList(leases: readonly LeftOutLease[]): string {
  const refs = leases.slice(0, namedLeases).map(({ namespace, name }) => `${namespace}/${name}`);
  const rest = leases.length - refs.length;
  if (rest > 0) return `${refs.join(', ')} and ${rest} more`;
  return refs.length < 2 ? refs.join('') : `${refs.slice(0, -1).join(', ')} and ${refs.at(-1) ?? ''}`;
}

/**
 * Leases in trusted namespaces that cannot be shards: someone configured a shard wrongly and must fix it.
 * Leases in untrusted namespaces are no problem of the ring (anyone who may create a Lease somewhere must not
 * be able to change the ring's health); they are only named when the ring has no shard (below).
 */
function leaseProblems(leftOut: readonly LeftOutLease[]): RingProblem[] {
  const problems: RingProblem[] = [];
  const invalid = leftOut.filter((lease) => lease.reason === 'InvalidName');
  if (invalid.length > 0) {
    problems.push({
      reason: 'InvalidShardLease',
      message: `shard Leases whose names are not valid label values (at most 63 characters) are ignored: ${leaseList(invalid)}: give these shards shorter names`,
    });
  }
  const duplicates = leftOut.filter((lease) => lease.reason === 'DuplicateName');
  if (duplicates.length > 0) {
    problems.push({
      reason: 'DuplicateShardLease',
      message: `shard names must be unique in the ring, so shard Leases that share a name are all ignored: ${leaseList(duplicates)}: delete the stale Leases or give the shards unique names`,
    });
  }
  return problems;
}

function noShardsProblem(ring: ControllerRing, membership: RingMembership): RingProblem {
  const name = ring.metadata?.name ?? '';
  const { members, leftOut } = membership;
  const trusted = trustedNamespaces(ring).join(', ');
  const untrusted = leftOut.filter((lease) => lease.reason === 'UntrustedNamespace');
  const message =
    members.length === 0
      ? `no shard has joined ring ${name}: start the sharded controller (its shard Leases carry the label controller-rings.io/ring=${name} and must be in a namespace of spec.shardLeaseNamespaces: ${trusted})`
      : `none of the ${members.length} shards of ring ${name} is available: check why the sharded controller stopped renewing its Leases`;
  const ignored =
    untrusted.length === 0
      ? ''
      : `; shard Leases in namespaces the ring does not trust are ignored: ${leaseList(untrusted)}: if they are the ring's shards, add their namespaces to spec.shardLeaseNamespaces`;
  return { reason: 'NoAvailableShards', message: `${message}${ignored}` };
}

function readyState(
  ring: ControllerRing,
  membership: RingMembership,
  available: number,
  problems: readonly RingProblem[],
) {
  const all = [...problems, ...leaseProblems(membership.leftOut)];
  if (available === 0) all.push(noShardsProblem(ring, membership));
  const first = all[0];
  if (first !== undefined) {
    return {
      status: 'False' as const,
      reason: first.reason,
      message: all.map((p) => p.message).join('; '),
    };
  }
  return {
    status: 'True' as const,
    reason: 'ShardsAvailable',
    message: `${available} of ${membership.members.length} shards are available${canarySplit(ring, membership)}`,
  };
}

/** How the ring's new objects get their shard (spec.assignment), said in its Ready message. */
function assignmentNote(ring: ControllerRing): string {
  return ring.spec.assignment === 'Watch'
    ? "new objects are assigned by the sharder's watch of unassigned objects (assignment: Watch, no webhook)"
    : 'new objects are assigned by the admission webhook (assignment: Webhook)';
}

/** How a ring with spec.canary splits its objects, and where a side without shards sends its share. */
function canarySplit(ring: ControllerRing, membership: RingMembership): string {
  if (ring.spec.canary === undefined) return '';
  const { percent, canary, stable } = ringSplit(membership.members, ring);
  const all = membership.members.filter((member) => member.canary === true).length;
  const counts = `; ${canary.length} of ${all} canary shards are available, for ${percent} % of the objects`;
  if (canary.length === 0 && percent > 0)
    return `${counts}: with no canary shard available, the stable shards take them`;
  if (stable.length === 0 && percent < 100)
    return `${counts}: with no stable shard available, the canary shards take all objects`;
  return counts;
}

/** Whether a level of the ring's chains lies below the first: only then can an object's chain be broken. */
function declaresChains(ring: ControllerRing): boolean {
  return ring.spec.resources.some((entry) =>
    (entry.controlledResources ?? []).some((controlled) => controlled.owner !== undefined),
  );
}

/** What the sync could not resolve of one resource, with its first object's reason (sharding/chain.ts). */
function unresolvedMessage({
  resource,
  count,
  object,
  message,
}: ChainFindings['unresolved'][number]): string {
  return count === 1
    ? `1 object of ${resource} is not assigned to a shard, as its chain of controllers could not be followed to its root: ${object}: ${message}`
    : `${count} objects of ${resource} are not assigned to a shard, as their chains of controllers could not be followed to their root; the first, ${object}: ${message}`;
}

/** The ChainsResolved condition's status, reason and message from the last complete sync's findings. */
function chainsState(findings: ChainFindings) {
  const [first] = findings.unresolved;
  if (first === undefined) {
    return {
      status: 'True' as const,
      reason: 'AllResolved',
      message: "the last sync followed every object of the ring's chains of controllers to its root",
    };
  }
  return {
    status: 'False' as const,
    reason: first.reason,
    message: findings.unresolved.map(unresolvedMessage).join('; '),
  };
}

/** The condition, with lastTransitionTime kept from `previous` while its status stays. */
function condition(
  type: string,
  state: Pick<Condition, 'status' | 'reason' | 'message'>,
  previous: Condition | undefined,
  generation: number | undefined,
  now: Date,
): Condition {
  return {
    type,
    ...state,
    lastTransitionTime:
      previous?.status === state.status
        ? previous.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(generation === undefined ? {} : { observedGeneration: generation }),
  };
}

/**
 * ChainsResolved, for a ring that declares chains: from `findings` at the generation the sync worked from;
 * without findings yet (a new leader's first sync has not ended) the condition stays as it was.
 */
function chainsCondition(
  ring: ControllerRing,
  findings: ChainFindings | undefined,
  previous: Condition | undefined,
  now: Date,
): Condition | undefined {
  if (!declaresChains(ring)) return undefined;
  if (findings === undefined) return previous;
  return condition(chainsResolvedCondition, chainsState(findings), previous, findings.generation, now);
}

/** The status the ring should have; lastTransitionTime moves only when a condition's status changes. */
export function desiredStatus(
  ring: ControllerRing,
  membership: RingMembership,
  problems: readonly RingProblem[],
  now: Date,
  chains?: ChainFindings,
): ControllerRingStatus {
  const generation = ring.metadata?.generation;
  const available = availableShards(membership.members).length;
  const state = readyState(ring, membership, available, problems);
  const ready =
    state.status === 'True' ? { ...state, message: `${state.message}; ${assignmentNote(ring)}` } : state;
  const conditions = ring.status?.conditions ?? [];
  const previous = (type: string) => conditions.find((c) => c.type === type);
  const readyNow = condition(readyCondition, ready, previous(readyCondition), generation, now);
  const chainsNow = chainsCondition(ring, chains, previous(chainsResolvedCondition), now);
  const ours = [readyCondition, chainsResolvedCondition];
  const others = conditions.filter((c) => !ours.includes(c.type));
  const canary = membership.members.filter((member) => member.canary === true);
  return {
    ...(generation === undefined ? {} : { observedGeneration: generation }),
    shards: membership.members.length,
    availableShards: available,
    // Always written, 0 without spec.canary: a merge patch that left them out would keep stale counts.
    canaryShards: canary.length,
    availableCanaryShards: availableShards(canary).length,
    // The whole list is written (a merge patch replaces it): a ring whose chains went loses ChainsResolved.
    conditions: [...others, readyNow, ...(chainsNow === undefined ? [] : [chainsNow])],
  };
}
