// Canary shards with real processes: the sharder (two replicas) and example shards, two of version v1 and one
// of v2 (their Leases labelled with --lease-label), through a version rollout 10 % → 50 % → 100 % and a
// rollback to 0 %, with the ring's ConfigMaps changing throughout. After each step the ring has converged on the
// split, exactly the objects whose side changed were drained, and the whole history keeps the design's
// invariants (no two shards reconcile one object at once; objects leave live shards only through a drain).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { canaryBucket } from '../../sharding/canary.ts';
import { EndToEnd, leaseDurationSeconds, namespace } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';

const objects = Array.from({ length: 60 }, (_, i) => `config-${i}`);
const limits = bounds(leaseDurationSeconds);
const version = 'app.kubernetes.io/version';
const shardSelector = { matchLabels: { [version]: 'v2' } };
let e2e: EndToEnd | undefined;
jest.setTimeout(120_000);

/** How many objects change side between the two percents: the ideal number of moves. */
function sideChanges(from: number, to: number): number {
  const [low, high] = from < to ? [from, to] : [to, from];
  return objects.filter((name) => {
    const bucket = canaryBucket(`/ConfigMap/${namespace}/${name}`);
    return bucket >= low && bucket < high;
  }).length;
}

beforeAll(async () => {
  e2e = await EndToEnd.start();
  await e2e.startShard('stable-a', undefined, { [version]: 'v1' });
  await e2e.startShard('stable-b', undefined, { [version]: 'v1' });
  await e2e.startShard('canary-c', undefined, { [version]: 'v2' });
  await e2e.setCanary({ shardSelector, percent: 0 });
  await e2e.withChurn(objects, async () => {
    await e2e?.createObjects(objects);
    await e2e?.converged();
  });
}, 120_000);

afterAll(async () => {
  await e2e?.stop();
}, 60_000);

describe('a version rollout on canary shards', () => {
  it.each([
    [0, 10],
    [10, 50],
    [50, 100],
    [100, 0],
  ])('from %d %% to %d %% drains exactly the objects whose side changed', async (from, to) => {
    const env = started(e2e);
    const since = Date.now();
    await env.withChurn(objects, async () => {
      await env.setCanary({ shardSelector, percent: to });
      await env.converged();
    });
    await env.converged();
    const ideal = sideChanges(from, to);
    console.log(`canary ${from} % -> ${to} %: ${env.drainsObservedSince(since)} drained, ideal ${ideal}`);
    expect(env.drainsObservedSince(since)).toBe(ideal);
    await expectInvariants(env, `canary ${from} % -> ${to} %`, limits);
  });
});
