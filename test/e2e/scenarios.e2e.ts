// The design's invariants 1-4 with real processes: the sharder (two replicas) and shards of the example
// controller against a real API server, through the scenarios of a ring's life. One continuous history is
// recorded and judged after every scenario, so each check covers everything that happened before it too.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';

const objects = Array.from({ length: 60 }, (_, i) => `config-${i}`);
const limits = bounds(leaseDurationSeconds);
let e2e: EndToEnd | undefined;
// Each scenario waits for the ring to converge, through Lease expiries when a shard is killed.
jest.setTimeout(120_000);

beforeAll(async () => {
  e2e = await EndToEnd.start();
}, 120_000);

afterAll(async () => {
  await e2e?.stop();
}, 60_000);

describe('a ring of example shards', () => {
  it('steady state with 3 shards', async () => {
    const env = started(e2e);
    for (const name of ['shard-a', 'shard-b', 'shard-c']) await env.startShard(name);
    await env.withChurn(objects, async () => {
      await env.createObjects(objects);
      await env.converged();
    });
    await env.converged();
    await expectInvariants(env, 'steady state with 3 shards', limits);
  });

  it('scale-out 3 -> 4', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      await env.startShard('shard-d');
      await env.converged();
    });
    await env.converged();
    const summary = await env.check(limits);
    // About 1/4 of the objects moved to the new shard, each through a drain.
    expect(summary.moves.drained).toBeGreaterThan(objects.length / 10);
    await expectInvariants(env, 'scale-out 3 -> 4', limits);
  });

  it('graceful scale-in 4 -> 3', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      await env.stopShard('shard-b');
      await env.converged();
    });
    await expectInvariants(env, 'graceful scale-in 4 -> 3', limits);
  });

  it('SIGKILL of a shard', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      await env.killShard('shard-c');
      await env.converged(limits.failoverBoundMs + 10_000);
    });
    await expectInvariants(env, 'SIGKILL of a shard', limits);
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
    await expectInvariants(env, 'kill of the sharder leader during a rebalance', limits);
  });

  it('rolling restart of all shards', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      for (const name of [...env.shards.keys()]) {
        await env.stopShard(name);
        await env.startShard(name);
        await env.converged();
      }
    });
    await expectInvariants(env, 'rolling restart of all shards', limits);
  });
});
