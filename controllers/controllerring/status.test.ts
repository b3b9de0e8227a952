import { describe, expect, it } from '@jest/globals';
import type { ControllerRing } from '../../api/v1alpha1/index.ts';
import type { ShardMember } from '../../sharding/membership.ts';
import { desiredStatus } from './status.ts';

const now = new Date('2026-11-26T10:00:00.123Z');
const ring: ControllerRing = {
  metadata: { name: 'r', generation: 3 },
  spec: { resources: [{ resource: 'configmaps' }] },
};
const member = (name: string, state: ShardMember['state']): ShardMember => ({ name, state });

describe('ring status', () => {
  it('is Ready with the counts when a shard is available', () => {
    expect(desiredStatus(ring, [member('a', 'ready'), member('b', 'dead')], [], now)).toEqual({
      observedGeneration: 3,
      shards: 2,
      availableShards: 1,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'ShardsAvailable',
          message: '1 of 2 shards are available',
          lastTransitionTime: '2026-11-26T10:00:00Z',
          observedGeneration: 3,
        },
      ],
    });
  });

  it('is not Ready without shards, and says how to get one', () => {
    const [condition] = desiredStatus(ring, [], [], now).conditions ?? [];
    expect(condition).toMatchObject({ status: 'False', reason: 'NoAvailableShards' });
    expect(condition?.message).toContain('start the sharded controller');
  });

  it('is not Ready when all shards are gone', () => {
    const [condition] = desiredStatus(ring, [member('a', 'dead')], [], now).conditions ?? [];
    expect(condition).toMatchObject({ status: 'False', reason: 'NoAvailableShards' });
    expect(condition?.message).toContain('none of the 1 shards of ring r is available');
  });

  it('reports problems first, with all their messages', () => {
    const problems = [
      { reason: 'ResourceNotFound', message: 'the API server does not serve widgets.example.com' },
      { reason: 'Forbidden', message: 'the sharder may not patch secrets' },
    ];
    const [condition] = desiredStatus(ring, [member('a', 'ready')], problems, now).conditions ?? [];
    expect(condition).toMatchObject({
      status: 'False',
      reason: 'ResourceNotFound',
      message: 'the API server does not serve widgets.example.com; the sharder may not patch secrets',
    });
  });

  it('keeps lastTransitionTime while the status stays, and moves it when it changes', () => {
    const previous = desiredStatus(ring, [member('a', 'ready')], [], new Date('2026-11-26T09:00:00Z'));
    const observed = { ...ring, status: previous };
    const same = desiredStatus(observed, [member('a', 'ready'), member('b', 'ready')], [], now);
    expect(same.conditions?.[0]?.lastTransitionTime).toBe('2026-11-26T09:00:00Z');
    const changed = desiredStatus(observed, [], [], now);
    expect(changed.conditions?.[0]?.lastTransitionTime).toBe('2026-11-26T10:00:00Z');
  });
});
