import { defaultLeaseDurationSeconds } from '../api/v1alpha1/index.ts';

/** A shard's state as the sharder computes it from its Lease and the clock (design.md, "Shard states"). */
export type ShardState = 'ready' | 'expired' | 'uncertain' | 'dead' | 'orphaned';

/** The state, and when it changes next if nothing writes the Lease: the moment to requeue the Lease for. */
export interface ShardStatus {
  readonly state: ShardState;
  readonly nextChange?: Date;
}

/** Lease times arrive as RFC 3339 strings from watches and raw JSON, as Dates from the client's lists. */
type Time = string | Date;

/** The parts of a Lease that decide its state; satisfied by kubernetes-models' ILease and client-node's V1Lease. */
export interface ShardLease {
  readonly metadata?: { readonly name?: string; readonly creationTimestamp?: Time };
  readonly spec?: {
    readonly holderIdentity?: string;
    readonly acquireTime?: Time;
    readonly renewTime?: Time;
    readonly leaseDurationSeconds?: number;
    readonly leaseTransitions?: number;
  };
}

/** How long a dead shard's Lease stays before the sharder deletes it. */
const orphanAfterMs = 60_000;

/** The state of the shard that `lease` announces, at `now` (design.md's table). */
export function shardState(lease: ShardLease, now: Date): ShardStatus {
  const { expiry, durationMs } = expiryOf(lease, now);
  const holder = lease.spec?.holderIdentity;
  if (!holder || holder !== lease.metadata?.name) {
    const orphanedAt = expiry + orphanAfterMs;
    return now.getTime() < orphanedAt
      ? { state: 'dead', nextChange: new Date(orphanedAt) }
      : { state: 'orphaned' };
  }
  if (now.getTime() < expiry) return { state: 'ready', nextChange: new Date(expiry) };
  const uncertainAt = expiry + durationMs;
  if (now.getTime() < uncertainAt) return { state: 'expired', nextChange: new Date(uncertainAt) };
  // No next change to wait for: the sharder acquires the Lease now, and whoever wins that race writes the
  // Lease, whose watch event brings it back.
  return { state: 'uncertain' };
}

/** Whether objects may be assigned to a shard in this state. */
export function isAvailable(state: ShardState): boolean {
  return state === 'ready' || state === 'expired' || state === 'uncertain';
}

/**
 * When the Lease expires (ms since the epoch), and the duration that separates the later states.
 *
 * A Lease without a renew (or acquire) time or without a duration counts as expired now with the default
 * duration. "Now" cannot be the evaluation time: re-evaluated at the requeue it would still be "expired
 * now", and the shard would never become uncertain, be acquired, or be cleaned up. So such a Lease expires
 * at the last moment it is known to have been written (renewTime, acquireTime, else its creation), but no
 * later than now: it is never ready, and its later states come at fixed times.
 */
function expiryOf(lease: ShardLease, now: Date): { expiry: number; durationMs: number } {
  const spec = lease.spec;
  const renewed = parse(spec?.renewTime) ?? parse(spec?.acquireTime);
  const seconds = spec?.leaseDurationSeconds;
  if (renewed !== undefined && seconds !== undefined && seconds > 0) {
    return { expiry: renewed + seconds * 1000, durationMs: seconds * 1000 };
  }
  const written = renewed ?? parse(lease.metadata?.creationTimestamp) ?? now.getTime();
  return { expiry: Math.min(written, now.getTime()), durationMs: defaultLeaseDurationSeconds * 1000 };
}

function parse(time: Time | undefined): number | undefined {
  if (time === undefined) return undefined;
  const ms = typeof time === 'string' ? Date.parse(time) : time.getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/** The Lease fields the sharder writes to acquire an uncertain shard's Lease; times for the caller to wrap. */
export interface AcquiredLeaseSpec {
  readonly holderIdentity: string;
  readonly acquireTime: Date;
  readonly renewTime: Date;
  readonly leaseDurationSeconds: number;
  readonly leaseTransitions: number;
}

/**
 * The holder the sharder writes when it acquires a shard's Lease: `sharder/<identity>`. A Lease's name is a DNS
 * subdomain and has no '/', so an acquired Lease can never read as held by its shard (ready again, and never
 * fenced), whatever the sharder's replicas and the shards are named.
 */
export function acquisitionHolder(sharderIdentity: string): string {
  return `sharder/${sharderIdentity}`;
}

/**
 * What the sharder writes (as an update with the Lease's resourceVersion) to take an uncertain shard's Lease.
 * If that write succeeds, the shard did not renew in between: it is gone, and the Lease now reads as dead.
 */
export function acquireLease(lease: ShardLease, sharderIdentity: string, now: Date): AcquiredLeaseSpec {
  const seconds = lease.spec?.leaseDurationSeconds;
  return {
    holderIdentity: acquisitionHolder(sharderIdentity),
    acquireTime: now,
    renewTime: now,
    leaseDurationSeconds: seconds !== undefined && seconds > 0 ? seconds : defaultLeaseDurationSeconds,
    leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + 1,
  };
}
