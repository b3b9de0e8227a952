import { describe, expect, it } from '@jest/globals';
import { canaryBucket, canarySeed, ringSplit, SplitHashRing, type Split } from './canary.ts';
import type { ShardMember } from './membership.ts';
import { murmur3 } from './murmur3.ts';
import { HashRing } from './ring.ts';

const keys = Array.from({ length: 20_000 }, (_, i) => `example.com/Widget/namespace-${i % 100}/widget-${i}`);

function split(percent: number, canary: string[], stable: string[]): Split {
  return { percent, canary, stable };
}

/** The shard of every key under `split`. */
function assign(of: Split): (string | undefined)[] {
  const ring = new SplitHashRing(of);
  return keys.map((key) => ring.shardFor(key));
}

/** How many keys changed shard from `before` to `after`. */
function moved(before: Split, after: Split): number {
  const [a, b] = [assign(before), assign(after)];
  return keys.filter((_, i) => a[i] !== b[i]).length;
}

const stable = ['stable-0', 'stable-1'];
const canary = ['canary-0'];

describe('canaryBucket', () => {
  it('pins its seed to murmur3 of its name', () => {
    expect(murmur3('controller-rings.io/canary')).toBe(canarySeed);
  });

  // Golden vectors: a change here moves objects between the sides in every running cluster. Cross-checked
  // against an independent implementation of murmur3_32 (Python) of the formula in canary.ts.
  it.each([
    ['/ConfigMap/default/settings', 44],
    ['apps/Deployment/default/web', 98],
    ['batch/Job/nightly/backup-28713600', 99],
    ['example.com/Widget/ns/a', 82],
    ['example.com/Widget/ns/b', 48],
    ['example.com/Widget/ns/ünïcödé', 8],
    ['webhosting.example.com/Website/project-1/homepage', 96],
  ])('puts %s in bucket %d', (key, bucket) => {
    expect(canaryBucket(key)).toBe(bucket);
  });

  it('spreads keys evenly over the 100 buckets', () => {
    const counts = new Array<number>(100).fill(0);
    for (const key of keys) counts[canaryBucket(key)] = (counts[canaryBucket(key)] ?? 0) + 1;
    // 200 keys a bucket on average: binomial, sd ~14; ±30 % is over 4 sd.
    expect(Math.min(...counts)).toBeGreaterThan(140);
    expect(Math.max(...counts)).toBeLessThan(260);
  });
});

describe('SplitHashRing', () => {
  it('is the plain hash ring without canary shards and with percent 0', () => {
    const plain = new HashRing(stable);
    const ring = new SplitHashRing(split(0, [], stable));
    expect(keys.every((key) => ring.shardFor(key) === plain.shardFor(key))).toBe(true);
  });

  it('sends the keys of buckets below percent to the canary shards, the others to the stable shards', () => {
    const ring = new SplitHashRing(split(10, canary, stable));
    for (const key of keys.slice(0, 2000)) {
      expect(canary.includes(ring.shardFor(key) ?? '')).toBe(canaryBucket(key) < 10);
    }
  });

  it.each([10, 50])(
    'at %d %% spreads each side evenly over its shards: side and shard within a side are independent',
    (percent) => {
      const ring = new SplitHashRing(split(percent, ['canary-0', 'canary-1'], stable));
      const counts = new Map<string, number>();
      for (const key of keys) {
        const shard = ring.shardFor(key) ?? '';
        counts.set(shard, (counts.get(shard) ?? 0) + 1);
      }
      const canaryShare = ((counts.get('canary-0') ?? 0) + (counts.get('canary-1') ?? 0)) / keys.length;
      expect(canaryShare).toBeCloseTo(percent / 100, 1);
      // Within each side the two shards hold half each, within 5 %.
      for (const [a, b] of [
        ['canary-0', 'canary-1'],
        ['stable-0', 'stable-1'],
      ] as const) {
        const [x, y] = [counts.get(a) ?? 0, counts.get(b) ?? 0];
        expect(Math.abs(x - y) / (x + y)).toBeLessThan(0.05);
      }
    },
  );

  it('sends the canary keys to the stable shards while no canary shard is available, and vice versa', () => {
    const onlyStable = new SplitHashRing(split(50, [], stable));
    const stableRing = new HashRing(stable);
    expect(keys.every((key) => onlyStable.shardFor(key) === stableRing.shardFor(key))).toBe(true);
    const onlyCanary = new SplitHashRing(split(50, canary, []));
    expect(keys.every((key) => onlyCanary.shardFor(key) === 'canary-0')).toBe(true);
    expect(new SplitHashRing(split(50, [], [])).shardFor('a/B/c/d')).toBeUndefined();
  });

  // moved / ideal: the ideal is the keys whose side changed; each of them must move, and no other key may.
  it.each([
    [0, 10],
    [10, 50],
    [50, 100],
    [100, 0],
    [50, 10],
  ])('moves from %d %% to %d %% only the keys whose side changed (moved / ideal = 1)', (from, to) => {
    const [low, high] = from < to ? [from, to] : [to, from];
    const ideal = keys.filter((key) => canaryBucket(key) >= low && canaryBucket(key) < high).length;
    expect(ideal / keys.length).toBeCloseTo((high - low) / 100, 1);
    expect(moved(split(from, canary, stable), split(to, canary, stable))).toBe(ideal);
  });

  it('moves only the canary share when the first canary shard becomes available, and back when it leaves', () => {
    const canaryKeys = keys.filter((key) => canaryBucket(key) < 10).length;
    expect(moved(split(10, [], stable), split(10, canary, stable))).toBe(canaryKeys);
    expect(moved(split(10, canary, stable), split(10, [], stable))).toBe(canaryKeys);
  });

  it('moves only stable keys, about 1/(N+1) of them, when a stable shard joins beside canary shards', () => {
    const before = assign(split(10, canary, stable));
    const after = assign(split(10, canary, [...stable, 'stable-2']));
    const movedIndices = keys.flatMap((_, i) => (before[i] === after[i] ? [] : [i]));
    // Each to the new shard, none from the canary side.
    expect(movedIndices.every((i) => after[i] === 'stable-2')).toBe(true);
    expect(movedIndices.every((i) => canaryBucket(keys[i] ?? '') >= 10)).toBe(true);
    const stableKeys = keys.filter((key) => canaryBucket(key) >= 10).length;
    expect(movedIndices.length / stableKeys).toBeCloseTo(1 / 3, 1);
  });
});

describe('ringSplit', () => {
  const member = (name: string, state: ShardMember['state'], isCanary = false): ShardMember => ({
    name,
    namespace: 'default',
    state,
    ...(isCanary ? { canary: true as const } : {}),
  });

  it('splits the available members by side, with the percent of spec.canary (0 without it)', () => {
    const members = [
      member('a', 'ready'),
      member('b', 'expired', true),
      member('c', 'dead', true),
      member('d', 'uncertain'),
      member('e', 'orphaned'),
    ];
    expect(ringSplit(members, { spec: { canary: { percent: 25 } } })).toEqual({
      percent: 25,
      canary: ['b'],
      stable: ['a', 'd'],
    });
    expect(ringSplit(members, { spec: {} }).percent).toBe(0);
  });
});
