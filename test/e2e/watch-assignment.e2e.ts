// The design's invariants 1-4 for a ring with `spec.assignment: Watch` (webhook-free assignment), with real
// processes: the sharder (two replicas) and example shards, the ring's ConfigMaps changing throughout. Without
// the webhook, every new object and every handed-over one is labelled by the leader's watch of the unassigned
// objects: through a join (drains, handed over and assigned by the watch), a shard's SIGKILL and a kill of the
// sharder leader during a rebalance (the new leader's watches take over), no two shards reconcile one object at
// once and objects leave live shards only through a drain.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';
import { killLeaderDuringRebalance, killShard, scaleOut, steadyState } from './ring-life.ts';

const objects = Array.from({ length: 60 }, (_, i) => `config-${i}`);
const limits = bounds(leaseDurationSeconds);
let e2e: EndToEnd | undefined;
jest.setTimeout(120_000);

beforeAll(async () => {
  e2e = await EndToEnd.start({ assignment: 'Watch' });
}, 120_000);

afterAll(async () => {
  await e2e?.stop();
}, 60_000);

describe('a ring of example shards with assignment: Watch', () => {
  it('steady state with 3 shards, and no webhook configuration', async () => {
    const env = started(e2e);
    await steadyState(env, objects);
    const configurations = await env.rest.request<{ items: unknown[] }>({
      path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      query: { labelSelector: 'controller-rings.io/ring' },
    });
    expect(configurations.items).toEqual([]);
    await expectInvariants(env, 'watch: steady state with 3 shards', limits);
  });

  it('scale-out 3 -> 4', async () => {
    const env = started(e2e);
    await scaleOut(env, objects, limits);
    await expectInvariants(env, 'watch: scale-out 3 -> 4', limits);
  });

  it('SIGKILL of a shard', async () => {
    const env = started(e2e);
    await killShard(env, objects, limits);
    await expectInvariants(env, 'watch: SIGKILL of a shard', limits);
  });

  it('kill of the sharder leader during a rebalance', async () => {
    const env = started(e2e);
    await killLeaderDuringRebalance(env, objects);
    await expectInvariants(env, 'watch: kill of the sharder leader during a rebalance', limits);
  });
});
