// Ring membership (design.md, "Shard states"): which shard Leases are a ring's shards. A Lease labelled with
// the ring's name is a shard only if the ring trusts its namespace (spec.shardLeaseNamespaces), its name can
// be the value of the shard label, and no other trusted Lease of the ring has the same name. Every other such
// Lease is left out, with a reason and a message naming it. The webhook, the sync, the ring's status and the
// shard lease controller all decide from this one function, so they never disagree on who is a shard.
import { defaultShardLeaseNamespaces, ringLabel } from '../api/v1alpha1/index.ts';
import { matchesSelector, type LabelSelector } from './label-selector.ts';
import { isAvailable, shardState, type ShardLease, type ShardState } from './lease.ts';

/** A shard Lease as the sharder lists it: with its namespace and labels. */
export interface RingLease extends ShardLease {
  readonly metadata?: ShardLease['metadata'] & {
    readonly namespace?: string;
    readonly labels?: Readonly<Record<string, string>>;
  };
}

/** The parts of a ControllerRing that decide its membership. */
export interface MembershipRing {
  readonly metadata?: { readonly name?: string };
  readonly spec: {
    readonly shardLeaseNamespaces?: readonly string[];
    readonly canary?: { readonly shardSelector: LabelSelector };
  };
}

export interface ShardMember {
  readonly name: string;
  /** The namespace of the shard's Lease. */
  readonly namespace: string;
  readonly state: ShardState;
  readonly nextChange?: Date;
  /** True when the ring has spec.canary and the shard's Lease matches its shardSelector (canary.ts). */
  readonly canary?: true;
}

/**
 * Why a Lease labelled for the ring is not one of its shards: its namespace is not in spec.shardLeaseNamespaces;
 * its name is not a valid label value; or another Lease in a trusted namespace has the same name.
 */
export type LeftOutReason = 'UntrustedNamespace' | 'InvalidName' | 'DuplicateName';

export interface LeftOutLease {
  readonly namespace: string;
  readonly name: string;
  readonly reason: LeftOutReason;
  /** Names the Lease as namespace/name and says why it is left out. */
  readonly message: string;
}

export interface RingMembership {
  /** The ring's shards, sorted by name. */
  readonly members: readonly ShardMember[];
  /** The Leases labelled for the ring that are not its shards, sorted by namespace/name. */
  readonly leftOut: readonly LeftOutLease[];
}

/** What a label value may be (and so a shard name): at most 63 characters, alphanumeric at both ends. */
const labelValue = /^(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$/;

export function isLabelValue(value: string): boolean {
  return labelValue.test(value);
}

/** The namespaces whose shard Leases `ring` trusts. */
export function trustedNamespaces(ring: MembershipRing): readonly string[] {
  return ring.spec.shardLeaseNamespaces ?? defaultShardLeaseNamespaces;
}

/** The shards of `ring` and their states at `now`, and the Leases left out, from all shard Leases known. */
export function ringMembership(leases: Iterable<RingLease>, ring: MembershipRing, now: Date): RingMembership {
  const ringName = ring.metadata?.name ?? '';
  const trusted = trustedNamespaces(ring);
  const canarySelector = ring.spec.canary?.shardSelector;
  const leftOut: LeftOutLease[] = [];
  const byName = new Map<string, { namespace: string; lease: RingLease }[]>();
  for (const lease of leases) {
    const { name, namespace = '', labels } = lease.metadata ?? {};
    if (name === undefined || labels?.[ringLabel] !== ringName) continue;
    const ref = `${namespace}/${name}`;
    if (!trusted.includes(namespace)) {
      leftOut.push({
        namespace,
        name,
        reason: 'UntrustedNamespace',
        message: `shard Lease ${ref} is ignored: ring ${ringName} does not trust namespace ${namespace} (spec.shardLeaseNamespaces: ${trusted.join(', ')})`,
      });
    } else if (!isLabelValue(name)) {
      leftOut.push({
        namespace,
        name,
        reason: 'InvalidName',
        message: `shard Lease ${ref} is ignored: its name is not a valid label value (at most 63 characters), so it cannot be the value of the shard label`,
      });
    } else {
      const namesakes = byName.get(name) ?? [];
      namesakes.push({ namespace, lease });
      byName.set(name, namesakes);
    }
  }
  const members: ShardMember[] = [];
  for (const [name, namesakes] of byName) {
    const [only, ...others] = namesakes;
    if (only !== undefined && others.length === 0) {
      const canary =
        canarySelector !== undefined && matchesSelector(canarySelector, only.lease.metadata?.labels);
      members.push({
        name,
        namespace: only.namespace,
        ...shardState(only.lease, now),
        ...(canary ? { canary } : {}),
      });
      continue;
    }
    // Both would watch the objects labelled with their name: keeping either could let two processes act on
    // one object, and which one is the real shard is for a person to decide.
    const refs = namesakes.map(({ namespace }) => `${namespace}/${name}`).sort(compare);
    for (const { namespace } of namesakes) {
      leftOut.push({
        namespace,
        name,
        reason: 'DuplicateName',
        message: `shard Lease ${namespace}/${name} is ignored: shard names must be unique in the ring, and ${refs.join(', ')} share the name ${name}`,
      });
    }
  }
  members.sort((a, b) => compare(a.name, b.name));
  leftOut.sort((a, b) => compare(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`));
  return { members, leftOut };
}

/** Whether the Lease `namespace`/`name` is one of the ring's shards. */
export function isMember(membership: RingMembership, namespace: string, name: string): boolean {
  return membership.members.some((member) => member.name === name && member.namespace === namespace);
}

/** Names of the members that objects may be assigned to, sorted. */
export function availableShards(members: readonly ShardMember[]): string[] {
  return members.filter((member) => isAvailable(member.state)).map((member) => member.name);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
