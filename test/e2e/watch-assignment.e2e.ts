// The design's invariants 1-4 for a ring with `spec.assignment: Watch` (webhook-free assignment), with real
// processes: the sharder (two replicas) and example shards, the ring's ConfigMaps changing throughout. Without
// the webhook, every new object and every handed-over one is labelled by the leader's watch of the unassigned
// objects: through a join (drains, handed over and assigned by the watch), a shard's SIGKILL and a kill of the
// sharder leader during a rebalance (the new leader's watches take over), no two shards reconcile one object at
// once and objects leave live shards only through a drain.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';

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
    for (const name of ['shard-a', 'shard-b', 'shard-c']) await env.startShard(name);
    await env.withChurn(objects, async () => {
      await env.createObjects(objects);
      await env.converged();
    });
    await env.converged();
    const configurations = await env.rest.request<{ items: unknown[] }>({
      path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
      query: { labelSelector: 'controller-rings.io/ring' },
    });
    expect(configurations.items).toEqual([]);
    await expectInvariants(env, 'watch: steady state with 3 shards', limits);
  });

  it('scale-out 3 -> 4', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      await env.startShard('shard-d');
      await env.converged();
    });
    await env.converged();
    const summary = await env.check(limits);
    expect(summary.moves.drained).toBeGreaterThan(objects.length / 10);
    await expectInvariants(env, 'watch: scale-out 3 -> 4', limits);
  });

  it('SIGKILL of a shard', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      await env.killShard('shard-c');
      await env.converged(limits.failoverBoundMs + 10_000);
    });
    await expectInvariants(env, 'watch: SIGKILL of a shard', limits);
  });

  it('kill of the sharder leader during a rebalance', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      const leader = await env.sharderLeader();
      const joinedAt = Date.now();
      await env.startShard('shard-e');
      await env.drainObserved(joinedAt);
      await env.killSharder(leader);
      await env.startSharder(`${leader}-restarted`);
      await env.converged();
    });
    await expectInvariants(env, 'watch: kill of the sharder leader during a rebalance', limits);
  });
});
