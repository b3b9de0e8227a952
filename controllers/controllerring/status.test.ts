import { describe, expect, it } from '@jest/globals';
import type { ControllerRing } from '../../api/v1alpha1/index.ts';
import type { LeftOutLease, LeftOutReason, RingMembership, ShardMember } from '../../sharding/membership.ts';
import { desiredStatus } from './status.ts';

const now = new Date('2026-11-26T10:00:00.123Z');
const ring: ControllerRing = {
  metadata: { name: 'r', generation: 3 },
  spec: { resources: [{ resource: 'configmaps' }], shardLeaseNamespaces: ['shards'] },
};
const member = (name: string, state: ShardMember['state']): ShardMember => ({
  name,
  namespace: 'shards',
  state,
});
const leftOut = (ref: string, reason: LeftOutReason): LeftOutLease => {
  const [namespace = '', name = ''] = ref.split('/');
  return { namespace, name, reason, message: `${ref}: ${reason}` };
};
const membership = (members: ShardMember[], out: LeftOutLease[] = []): RingMembership => ({
  members,
  leftOut: out,
});
const ready = member('a', 'ready');
const long = 'l'.repeat(64);

function readyOf(of: RingMembership, problems: { reason: string; message: string }[] = []) {
  const [condition] = desiredStatus(ring, of, problems, now).conditions ?? [];
  return condition;
}

describe('ring status', () => {
  it('is Ready with the counts when a shard is available', () => {
    expect(desiredStatus(ring, membership([ready, member('b', 'dead')]), [], now)).toEqual({
      observedGeneration: 3,
      shards: 2,
      availableShards: 1,
      canaryShards: 0,
      availableCanaryShards: 0,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'ShardsAvailable',
          message:
            '1 of 2 shards are available; new objects are assigned by the admission webhook (assignment: Webhook)',
          lastTransitionTime: '2026-11-26T10:00:00Z',
          observedGeneration: 3,
        },
      ],
    });
  });

  it('says in its Ready message that a ring with assignment: Watch has no webhook', () => {
    const watched = { ...ring, spec: { ...ring.spec, assignment: 'Watch' as const } };
    const [condition] = desiredStatus(watched, membership([ready]), [], now).conditions ?? [];
    expect(condition?.message).toBe(
      "1 of 1 shards are available; new objects are assigned by the sharder's watch of unassigned objects (assignment: Watch, no webhook)",
    );
  });

  // Ready by the ring's members and the Leases left out of it (design.md, "Shard states").
  it.each<[string, ShardMember[], LeftOutLease[], 'True' | 'False', string, string[]]>([
    ['no shard', [], [], 'False', 'NoAvailableShards', ['no shard has joined ring r', 'shards']],
    ['all shards gone', [member('a', 'dead')], [], 'False', 'NoAvailableShards', ['none of the 1 shards']],
    [
      'a Lease in an untrusted namespace, beside an available shard: no change',
      [ready],
      [leftOut('elsewhere/x', 'UntrustedNamespace')],
      'True',
      'ShardsAvailable',
      ['1 of 1 shards are available'],
    ],
    [
      'only Leases in untrusted namespaces: named, with how to trust them',
      [],
      [leftOut('elsewhere/x', 'UntrustedNamespace'), leftOut('other/y', 'UntrustedNamespace')],
      'False',
      'NoAvailableShards',
      ['elsewhere/x and other/y', 'add their namespaces to spec.shardLeaseNamespaces'],
    ],
    [
      'a name that is not a valid label value, beside an available shard',
      [ready],
      [leftOut(`shards/${long}`, 'InvalidName')],
      'False',
      'InvalidShardLease',
      [`ignored: shards/${long}: give these shards shorter names`],
    ],
    [
      'two Leases of one name',
      [ready],
      [leftOut('more/b', 'DuplicateName'), leftOut('shards/b', 'DuplicateName')],
      'False',
      'DuplicateShardLease',
      ['ignored: more/b and shards/b: delete the stale Leases or give the shards unique names'],
    ],
    [
      'an invalid name and nothing else: both problems told',
      [],
      [leftOut(`shards/${long}`, 'InvalidName')],
      'False',
      'InvalidShardLease',
      [`shards/${long}`, 'no shard has joined ring r'],
    ],
    [
      'many Leases left out: a few named, the rest counted',
      [ready],
      ['a', 'b', 'c', 'd', 'e'].map((name) => leftOut(`shards/${name}${long}`, 'InvalidName')),
      'False',
      'InvalidShardLease',
      [`shards/a${long}, shards/b${long}, shards/c${long} and 2 more`],
    ],
  ])('%s', (_, members, out, status, reason, phrases) => {
    const condition = readyOf(membership(members, out));
    expect(condition).toMatchObject({ status, reason });
    for (const phrase of phrases) expect(condition?.message).toContain(phrase);
    expect(condition?.message).not.toContain(`shards/d${long}`);
  });

  it('counts only members as shards', () => {
    const status = desiredStatus(ring, membership([ready], [leftOut('x/b', 'UntrustedNamespace')]), [], now);
    expect(status).toMatchObject({ shards: 1, availableShards: 1 });
  });

  describe('with spec.canary', () => {
    const canaryRing = (percent: number): ControllerRing => ({
      ...ring,
      spec: { ...ring.spec, canary: { shardSelector: { matchLabels: { version: 'v2' } }, percent } },
    });
    const canary = (name: string, state: ShardMember['state']): ShardMember => ({
      ...member(name, state),
      canary: true,
    });
    const statusOf = (percent: number, members: ShardMember[]) =>
      desiredStatus(canaryRing(percent), membership(members), [], now);

    it('counts the canary shards, and says how the ring splits its objects', () => {
      const status = statusOf(10, [ready, member('b', 'ready'), canary('c', 'ready'), canary('d', 'dead')]);
      expect(status).toMatchObject({
        shards: 4,
        availableShards: 3,
        canaryShards: 2,
        availableCanaryShards: 1,
      });
      expect(status.conditions?.[0]).toMatchObject({
        status: 'True',
        message:
          '3 of 4 shards are available; 1 of 2 canary shards are available, for 10 % of the objects; new objects are assigned by the admission webhook (assignment: Webhook)',
      });
    });

    it.each<[string, number, ShardMember[], string]>([
      [
        'no canary shard available: the stable shards take its share',
        10,
        [ready, canary('c', 'dead')],
        '0 of 1 canary shards are available, for 10 % of the objects: with no canary shard available, the stable shards take them',
      ],
      [
        'no stable shard available: the canary shards take all',
        50,
        [member('a', 'dead'), canary('c', 'ready')],
        '1 of 1 canary shards are available, for 50 % of the objects: with no stable shard available, the canary shards take all objects',
      ],
      [
        'no canary shard at 0 %: nothing to say about them',
        0,
        [ready],
        '1 of 1 shards are available; 0 of 0 canary shards are available, for 0 % of the objects',
      ],
      [
        'no stable shard at 100 %: nothing to say about them',
        100,
        [canary('c', 'ready')],
        '1 of 1 shards are available; 1 of 1 canary shards are available, for 100 % of the objects',
      ],
    ])('%s', (_, percent, members, message) => {
      const [condition] = statusOf(percent, members).conditions ?? [];
      expect(condition?.status).toBe('True');
      expect(condition?.message).toContain(message);
      if (!message.includes(': with')) expect(condition?.message).not.toContain(': with');
    });
  });

  it('reports problems first, with all their messages', () => {
    const problems = [
      { reason: 'ResourceNotFound', message: 'the API server does not serve widgets.example.com' },
      { reason: 'Forbidden', message: 'the sharder may not patch secrets' },
    ];
    expect(readyOf(membership([ready], [leftOut('shards/b', 'DuplicateName')]), problems)).toMatchObject({
      status: 'False',
      reason: 'ResourceNotFound',
      message: expect.stringMatching(
        /^the API server does not serve widgets.example.com; the sharder may not patch secrets; shard names must be unique/,
      ) as unknown,
    });
  });

  it('keeps lastTransitionTime while the status stays, and moves it when it changes', () => {
    const previous = desiredStatus(ring, membership([ready]), [], new Date('2026-11-26T09:00:00Z'));
    const observed = { ...ring, status: previous };
    const same = desiredStatus(observed, membership([ready, member('b', 'ready')]), [], now);
    expect(same.conditions?.[0]?.lastTransitionTime).toBe('2026-11-26T09:00:00Z');
    const changed = desiredStatus(observed, membership([]), [], now);
    expect(changed.conditions?.[0]?.lastTransitionTime).toBe('2026-11-26T10:00:00Z');
  });

  describe('ChainsResolved, for a ring with chains of controllers', () => {
    const chained: ControllerRing = {
      ...ring,
      spec: {
        ...ring.spec,
        resources: [
          {
            group: 'apps',
            resource: 'deployments',
            controlledResources: [
              { group: 'apps', resource: 'replicasets' },
              { resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
            ],
          },
        ],
      },
    };
    const gone =
      'its controller ReplicaSet default/gone (uid u) does not exist as replicasets.apps, so the object’s chain has no root';
    const orphans = (count: number) => ({
      resource: 'pods',
      count,
      object: 'default/orphan',
      reason: 'OwnerNotFound',
      message: gone,
    });
    const chainsOf = (of: ControllerRing, findings?: Parameters<typeof desiredStatus>[4], at = now) =>
      desiredStatus(of, membership([ready]), [], at, findings).conditions?.find(
        (condition) => condition.type === 'ChainsResolved',
      );

    it('is True when the last sync resolved every object, at the generation it synced', () => {
      expect(chainsOf(chained, { generation: 2, unresolved: [] })).toEqual({
        type: 'ChainsResolved',
        status: 'True',
        reason: 'AllResolved',
        message: "the last sync followed every object of the ring's chains of controllers to its root",
        lastTransitionTime: '2026-11-26T10:00:00Z',
        observedGeneration: 2,
      });
    });

    it('says how many objects of which resource were not followed, the first one and what to do; Ready stays', () => {
      const status = desiredStatus(chained, membership([ready]), [], now, {
        generation: 3,
        unresolved: [
          orphans(3),
          { ...orphans(1), resource: 'replicasets.apps', object: 'default/rs', reason: 'OwnerNotInChain' },
        ],
      });
      expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      expect(status.conditions?.find((c) => c.type === 'ChainsResolved')).toMatchObject({
        status: 'False',
        reason: 'OwnerNotFound',
        message: `3 objects of pods are not assigned to a shard, as their chains of controllers could not be followed to their root; the first, default/orphan: ${gone}; 1 object of replicasets.apps is not assigned to a shard, as its chain of controllers could not be followed to its root: default/rs: ${gone}`,
        observedGeneration: 3,
      });
    });

    it('keeps lastTransitionTime while the status stays, and moves it when it changes', () => {
      const earlier = new Date('2026-11-26T09:00:00Z');
      const first = desiredStatus(chained, membership([ready]), [], earlier, {
        generation: 3,
        unresolved: [orphans(3)],
      });
      const observed = { ...chained, status: first };
      expect(chainsOf(observed, { generation: 3, unresolved: [orphans(2)] })).toMatchObject({
        status: 'False',
        lastTransitionTime: '2026-11-26T09:00:00Z',
      });
      expect(chainsOf(observed, { generation: 3, unresolved: [] })).toMatchObject({
        status: 'True',
        lastTransitionTime: '2026-11-26T10:00:00Z',
      });
    });

    it('stays as it was until this leader’s first sync of the ring has ended', () => {
      const first = desiredStatus(chained, membership([ready]), [], now, {
        generation: 3,
        unresolved: [orphans(1)],
      });
      const kept = chainsOf({ ...chained, status: first }, undefined);
      expect(kept).toEqual(first.conditions?.find((c) => c.type === 'ChainsResolved'));
      // A new ring: none until its first sync.
      expect(chainsOf(chained, undefined)).toBeUndefined();
    });

    it('is absent for a ring without chains, and goes when its chains go', () => {
      expect(chainsOf(ring, { generation: 3, unresolved: [] })).toBeUndefined();
      const level1: ControllerRing = {
        ...ring,
        spec: {
          ...ring.spec,
          resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
        },
      };
      const first = desiredStatus(chained, membership([ready]), [], now, { generation: 3, unresolved: [] });
      const status = desiredStatus({ ...level1, status: first }, membership([ready]), [], now, {
        generation: 4,
        unresolved: [],
      });
      expect(status.conditions?.map((c) => c.type)).toEqual(['Ready']);
    });
  });
});
