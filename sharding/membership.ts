import { ringLabel } from '../api/v1alpha1/index.ts';
import { isAvailable, shardState, type ShardLease, type ShardState } from './lease.ts';

/** A shard Lease as the sharder lists it: with its labels, so that it can be told apart by ring. */
export interface RingLease extends ShardLease {
  readonly metadata?: ShardLease['metadata'] & { readonly labels?: Readonly<Record<string, string>> };
}

export interface ShardMember {
  readonly name: string;
  readonly state: ShardState;
  readonly nextChange?: Date;
}

/** The shards of `ring` and their states at `now`, from all shard Leases the sharder knows of. */
export function ringMembers(leases: Iterable<RingLease>, ring: string, now: Date): ShardMember[] {
  const members: ShardMember[] = [];
  for (const lease of leases) {
    const name = lease.metadata?.name;
    if (name === undefined || lease.metadata?.labels?.[ringLabel] !== ring) continue;
    members.push({ name, ...shardState(lease, now) });
  }
  return members.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Names of the members that objects may be assigned to, sorted. */
export function availableShards(members: readonly ShardMember[]): string[] {
  return members.filter((member) => isAvailable(member.state)).map((member) => member.name);
}
