import { describe, expect, it } from '@jest/globals';
import {
  availableShards,
  isLabelValue,
  isMember,
  ringMembership,
  type MembershipRing,
  type RingLease,
} from './membership.ts';

const now = new Date('2026-11-26T10:00:00Z');

function lease(
  ref: string,
  {
    ring = 'ring',
    renewedSecondsAgo = 1,
    holder,
  }: { ring?: string; renewedSecondsAgo?: number; holder?: string } = {},
): RingLease {
  const [namespace = '', name = ''] = ref.split('/');
  return {
    metadata: { name, namespace, labels: { 'controller-rings.io/ring': ring } },
    spec: {
      holderIdentity: holder ?? name,
      renewTime: new Date(now.getTime() - renewedSecondsAgo * 1000).toISOString(),
      leaseDurationSeconds: 10,
    },
  };
}

function ring(shardLeaseNamespaces?: string[]): MembershipRing {
  return { metadata: { name: 'ring' }, spec: shardLeaseNamespaces ? { shardLeaseNamespaces } : {} };
}

const long = 'l'.repeat(64);

describe('ring membership', () => {
  // The trust rules, one Lease set per row: which Leases are shards, and why the others are left out.
  it.each<[string, string[] | undefined, string[], string[], [string, string][]]>([
    ['a Lease in a trusted namespace is a shard', ['shards'], ['shards/a'], ['a'], []],
    ['without shardLeaseNamespaces, default is trusted', undefined, ['default/a'], ['a'], []],
    [
      'a Lease in another namespace is left out',
      ['shards'],
      ['shards/a', 'elsewhere/b'],
      ['a'],
      [['elsewhere/b', 'UntrustedNamespace']],
    ],
    [
      'a Lease named like a shard in an untrusted namespace does not make it a duplicate',
      ['shards'],
      ['shards/a', 'elsewhere/a'],
      ['a'],
      [['elsewhere/a', 'UntrustedNamespace']],
    ],
    [
      'a name of 64 characters is left out',
      ['shards'],
      ['shards/a', `shards/${long}`],
      ['a'],
      [[`shards/${long}`, 'InvalidName']],
    ],
    ['a name of 63 characters is a shard', ['shards'], [`shards/${'l'.repeat(63)}`], ['l'.repeat(63)], []],
    [
      'two Leases of one name in trusted namespaces: neither is a shard',
      ['shards', 'more'],
      ['shards/a', 'shards/b', 'more/b'],
      ['a'],
      [
        ['more/b', 'DuplicateName'],
        ['shards/b', 'DuplicateName'],
      ],
    ],
    [
      'Leases of the same name in several trusted namespaces: none is a shard',
      ['x', 'y', 'z'],
      ['x/a', 'y/a', 'z/a'],
      [],
      [
        ['x/a', 'DuplicateName'],
        ['y/a', 'DuplicateName'],
        ['z/a', 'DuplicateName'],
      ],
    ],
  ])('%s', (_, trusted, refs, members, leftOut) => {
    const membership = ringMembership(
      refs.map((ref) => lease(ref)),
      ring(trusted),
      now,
    );
    expect(membership.members.map((member) => member.name)).toEqual(members);
    expect(membership.leftOut.map(({ namespace, name, reason }) => [`${namespace}/${name}`, reason])).toEqual(
      leftOut,
    );
  });

  it('names the Lease as namespace/name in every message, and says what is wrong', () => {
    const leases = ['shards/a', 'more/a', 'elsewhere/b', `shards/${long}`].map((ref) => lease(ref));
    const messages = ringMembership(leases, ring(['shards', 'more']), now).leftOut.map((l) => l.message);
    expect(messages).toEqual([
      'shard Lease elsewhere/b is ignored: ring ring does not trust namespace elsewhere (spec.shardLeaseNamespaces: shards, more)',
      'shard Lease more/a is ignored: shard names must be unique in the ring, and more/a, shards/a share the name a',
      'shard Lease shards/a is ignored: shard names must be unique in the ring, and more/a, shards/a share the name a',
      `shard Lease shards/${long} is ignored: its name is not a valid label value (at most 63 characters), so it cannot be the value of the shard label`,
    ]);
  });

  it("lists the ring's shards with their states and namespaces, sorted by name", () => {
    const leases = [
      lease('default/c'),
      lease('default/a', { renewedSecondsAgo: 15 }), // expired, still available
      lease('default/b', { renewedSecondsAgo: 25 }), // uncertain, still available
      lease('default/d', { holder: '' }), // released: dead
      lease('default/x', { ring: 'other-ring' }),
      { metadata: { name: 'unlabelled', namespace: 'default' }, spec: { holderIdentity: 'unlabelled' } },
    ];
    const { members, leftOut } = ringMembership(leases, ring(), now);
    expect(members.map(({ name, namespace, state }) => [name, namespace, state])).toEqual([
      ['a', 'default', 'expired'],
      ['b', 'default', 'uncertain'],
      ['c', 'default', 'ready'],
      ['d', 'default', 'dead'],
    ]);
    expect(leftOut).toEqual([]);
    expect(availableShards(members)).toEqual(['a', 'b', 'c']);
    expect(isMember({ members, leftOut }, 'default', 'a')).toBe(true);
    expect(isMember({ members, leftOut }, 'other', 'a')).toBe(false);
    expect(ringMembership(leases, { metadata: { name: 'no-such-ring' }, spec: {} }, now).members).toEqual([]);
  });

  it('marks the shards whose Lease matches spec.canary.shardSelector as canary, and only with spec.canary', () => {
    const labelled = (ref: string, version: string): RingLease => {
      const base = lease(ref);
      return { ...base, metadata: { ...base.metadata, labels: { ...base.metadata?.labels, version } } };
    };
    const leases = [labelled('default/a', 'v1'), labelled('default/b', 'v2'), lease('default/c')];
    const canaryRing: MembershipRing = {
      metadata: { name: 'ring' },
      spec: { canary: { shardSelector: { matchLabels: { version: 'v2' } } } },
    };
    const canaryOf = (of: MembershipRing): [string, boolean][] =>
      ringMembership(leases, of, now).members.map(({ name, canary }) => [name, canary === true]);
    expect(canaryOf(canaryRing)).toEqual([
      ['a', false],
      ['b', true],
      ['c', false],
    ]);
    expect(canaryOf(ring())).toEqual([
      ['a', false],
      ['b', false],
      ['c', false],
    ]);
  });
});

describe('label values', () => {
  it.each<[string, boolean]>([
    ['shard-0', true],
    ['Shard_0.a', true],
    ['l'.repeat(63), true],
    ['l'.repeat(64), false],
    ['-shard', false],
    ['shard.', false],
    ['sharder/shard', false],
  ])('%s: %s', (value, valid) => {
    expect(isLabelValue(value)).toBe(valid);
  });
});
