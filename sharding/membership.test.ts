import { describe, expect, it } from '@jest/globals';
import { availableShards, ringMembers, type RingLease } from './membership.ts';

const now = new Date('2026-11-26T10:00:00Z');

function lease(name: string, ring: string, renewedSecondsAgo: number, holder = name): RingLease {
  return {
    metadata: { name, labels: { 'controller-rings.io/ring': ring } },
    spec: {
      holderIdentity: holder,
      renewTime: new Date(now.getTime() - renewedSecondsAgo * 1000).toISOString(),
      leaseDurationSeconds: 10,
    },
  };
}

describe('ring membership', () => {
  const leases = [
    lease('c', 'ring', 1),
    lease('a', 'ring', 15), // expired, still available
    lease('b', 'ring', 25), // uncertain, still available
    lease('d', 'ring', 1, ''), // released: dead
    lease('x', 'other-ring', 1),
    { metadata: { name: 'unlabelled' }, spec: { holderIdentity: 'unlabelled' } },
  ];

  it("lists the ring's shards with their states, sorted by name", () => {
    expect(ringMembers(leases, 'ring', now).map(({ name, state }) => [name, state])).toEqual([
      ['a', 'expired'],
      ['b', 'uncertain'],
      ['c', 'ready'],
      ['d', 'dead'],
    ]);
  });

  it('counts ready, expired and uncertain shards as available', () => {
    expect(availableShards(ringMembers(leases, 'ring', now))).toEqual(['a', 'b', 'c']);
    expect(availableShards(ringMembers(leases, 'no-such-ring', now))).toEqual([]);
  });
});
