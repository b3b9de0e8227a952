import { describe, expect, it } from '@jest/globals';
import { HashRing } from './ring.ts';

const three = ['shard-0', 'shard-1', 'shard-2'];
const five = [
  'example-shard-7b9f6c5d4-4xq2z',
  'example-shard-7b9f6c5d4-9kd8m',
  'example-shard-7b9f6c5d4-c2n7w',
  'example-shard-7b9f6c5d4-lp5rt',
  'example-shard-7b9f6c5d4-x8vhb',
];

function shards(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `shard-${i}`);
}

const keys = Array.from({ length: 10_000 }, (_, i) => `example.com/Widget/namespace-${i % 100}/widget-${i}`);

describe('HashRing', () => {
  // Golden vectors: a change here reassigns objects in every running cluster, so it needs a migration plan,
  // not an updated table. Cross-checked against an independent implementation of the formula in ring.ts.
  it.each([
    ['/ConfigMap/default/settings', 'shard-0', 'example-shard-7b9f6c5d4-c2n7w'],
    ['/Secret/kube-system/bootstrap-token-abcdef', 'shard-2', 'example-shard-7b9f6c5d4-x8vhb'],
    ['/Namespace//team-a', 'shard-2', 'example-shard-7b9f6c5d4-lp5rt'],
    ['/Service/default/kubernetes', 'shard-2', 'example-shard-7b9f6c5d4-lp5rt'],
    ['apps/Deployment/default/web', 'shard-2', 'example-shard-7b9f6c5d4-x8vhb'],
    ['apps/Deployment/default/web-2', 'shard-2', 'example-shard-7b9f6c5d4-4xq2z'],
    ['apps/StatefulSet/db/postgres', 'shard-0', 'example-shard-7b9f6c5d4-lp5rt'],
    ['apps/ReplicaSet/default/web-6d4cf56db6', 'shard-1', 'example-shard-7b9f6c5d4-lp5rt'],
    ['batch/Job/nightly/backup-28713600', 'shard-1', 'example-shard-7b9f6c5d4-c2n7w'],
    ['batch/CronJob/nightly/backup', 'shard-2', 'example-shard-7b9f6c5d4-c2n7w'],
    ['networking.k8s.io/Ingress/shop/frontend', 'shard-0', 'example-shard-7b9f6c5d4-c2n7w'],
    ['rbac.authorization.k8s.io/ClusterRole//view', 'shard-1', 'example-shard-7b9f6c5d4-4xq2z'],
    ['sharding.controller-rings.io/ControllerRing//example', 'shard-0', 'example-shard-7b9f6c5d4-lp5rt'],
    ['webhosting.example.com/Website/project-1/homepage', 'shard-0', 'example-shard-7b9f6c5d4-lp5rt'],
    ['webhosting.example.com/Website/project-1/blog', 'shard-0', 'example-shard-7b9f6c5d4-x8vhb'],
    ['webhosting.example.com/Website/project-2/homepage', 'shard-0', 'example-shard-7b9f6c5d4-lp5rt'],
    ['webhosting.example.com/Theme//exciting', 'shard-1', 'example-shard-7b9f6c5d4-4xq2z'],
    ['example.com/Widget/ns/a', 'shard-0', 'example-shard-7b9f6c5d4-4xq2z'],
    ['example.com/Widget/ns/b', 'shard-2', 'example-shard-7b9f6c5d4-4xq2z'],
    ['example.com/Widget/ns/ünïcödé', 'shard-2', 'example-shard-7b9f6c5d4-4xq2z'],
  ])('assigns %s to %s of three shards and to %s of five', (key, ofThree, ofFive) => {
    expect(new HashRing(three).shardFor(key)).toBe(ofThree);
    expect(new HashRing(five).shardFor(key)).toBe(ofFive);
  });

  it('has no shard for any key when empty', () => {
    expect(new HashRing([]).shardFor('apps/Deployment/default/web')).toBeUndefined();
  });

  it('assigns every key to the only shard', () => {
    const ring = new HashRing(['only']);
    expect(keys.slice(0, 100).every((key) => ring.shardFor(key) === 'only')).toBe(true);
  });

  it('depends on the set of shard names only, not their order or repetition', () => {
    const ring = new HashRing(five);
    const shuffled = new HashRing([...five].reverse().concat(five[2] ?? ''));
    expect(keys.every((key) => shuffled.shardFor(key) === ring.shardFor(key))).toBe(true);
  });

  it.each([2, 3, 4, 5, 6, 7, 8, 9, 10])('spreads 10k keys evenly over %d shards', (n) => {
    const ring = new HashRing(shards(n));
    const counts = new Map<string, number>();
    for (const key of keys) {
      const shard = ring.shardFor(key) ?? '';
      counts.set(shard, (counts.get(shard) ?? 0) + 1);
    }
    const mean = keys.length / n;
    expect(counts.size).toBe(n);
    expect(Math.max(...counts.values()) / mean).toBeLessThan(1.1);
    expect(Math.min(...counts.values()) / mean).toBeGreaterThan(0.9);
  });

  it.each([1, 2, 3, 4, 5, 6, 7, 8, 9])(
    'moves about 1/(N+1) of the keys, all to the new shard, when shard %d+1 joins',
    (n) => {
      const before = new HashRing(shards(n));
      const after = new HashRing(shards(n + 1));
      const moved = keys.filter((key) => before.shardFor(key) !== after.shardFor(key));
      expect(moved.every((key) => after.shardFor(key) === `shard-${n}`)).toBe(true);
      const ratio = (moved.length / keys.length) * (n + 1);
      expect(ratio).toBeGreaterThan(0.9);
      expect(ratio).toBeLessThan(1.1);
    },
  );

  it.each([2, 5, 10])('moves only the keys of the shard that leaves, out of %d', (n) => {
    const before = new HashRing(shards(n));
    const leaving = 'shard-1';
    const after = new HashRing(shards(n).filter((shard) => shard !== leaving));
    const moved = keys.filter((key) => before.shardFor(key) !== after.shardFor(key));
    expect(moved.length).toBeGreaterThan(0);
    expect(moved.every((key) => before.shardFor(key) === leaving)).toBe(true);
    expect(keys.every((key) => after.shardFor(key) !== leaving)).toBe(true);
  });
});
