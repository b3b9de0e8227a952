// The design's invariants 1-4 with real processes: the sharder (two replicas) and shards of the example
// controller against a real API server, through the scenarios of a ring's life. One continuous history is
// recorded and judged after every scenario, so each check covers everything that happened before it too.
import { afterAll, beforeAll, describe, it, jest } from '@jest/globals';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';
import { killLeaderDuringRebalance, killShard, scaleOut, steadyState } from './ring-life.ts';

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
    await steadyState(env, objects);
    await expectInvariants(env, 'steady state with 3 shards', limits);
  });

  it('scale-out 3 -> 4', async () => {
    const env = started(e2e);
    await scaleOut(env, objects, limits);
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
    await killShard(env, objects, limits);
    await expectInvariants(env, 'SIGKILL of a shard', limits);
  });

  it('kill of the sharder leader during a rebalance', async () => {
    const env = started(e2e);
    await killLeaderDuringRebalance(env, objects);
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
