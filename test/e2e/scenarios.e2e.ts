// The design's invariants 1-4 with real processes: the sharder (two replicas) and shards of the example
// controller against a real API server, through the scenarios of a ring's life. One continuous history is
// recorded and judged after every scenario, so each check covers everything that happened before it too.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { formatSummary } from './invariants.ts';

const objects = Array.from({ length: 60 }, (_, i) => `config-${i}`);
// Invariant 3: a crashed shard's objects are reconciled elsewhere within 2 x leaseDuration + a few seconds.
const bounds = {
  assignmentBoundMs: 1_000 + 10_000, // webhook (1 s); the sync period covers objects created while it is down
  reconcileBoundMs: 10_000,
  failoverBoundMs: 2 * leaseDurationSeconds * 1000 + 5_000,
};
let e2e: EndToEnd | undefined;
// Each scenario waits for the ring to converge, through Lease expiries when a shard is killed.
jest.setTimeout(120_000);

function environment(): EndToEnd {
  if (e2e === undefined) throw new Error('the end-to-end environment did not start');
  return e2e;
}

/** Judges the history so far; fails with the summary, which names every violation. */
async function expectInvariants(scenario: string): Promise<void> {
  const summary = await environment().check(bounds);
  const report = formatSummary(scenario, summary);
  console.log(report);
  expect({ scenario, violations: summary.violations.map((v) => v.message) }).toEqual({
    scenario,
    violations: [],
  });
}

beforeAll(async () => {
  e2e = await EndToEnd.start();
}, 120_000);

afterAll(async () => {
  await e2e?.stop();
}, 60_000);

describe('a ring of example shards', () => {
  it('steady state with 3 shards', async () => {
    const env = environment();
    for (const name of ['shard-a', 'shard-b', 'shard-c']) await env.startShard(name);
    await env.withChurn(objects, async () => {
      await env.createObjects(objects);
      await env.converged();
    });
    await env.converged();
    await expectInvariants('steady state with 3 shards');
  });

  it('scale-out 3 -> 4', async () => {
    const env = environment();
    await env.withChurn(objects, async () => {
      await env.startShard('shard-d');
      await env.converged();
    });
    await env.converged();
    const summary = await env.check(bounds);
    // About 1/4 of the objects moved to the new shard, each through a drain.
    expect(summary.moves.drained).toBeGreaterThan(objects.length / 10);
    await expectInvariants('scale-out 3 -> 4');
  });

  it('graceful scale-in 4 -> 3', async () => {
    const env = environment();
    await env.withChurn(objects, async () => {
      await env.stopShard('shard-b');
      await env.converged();
    });
    await expectInvariants('graceful scale-in 4 -> 3');
  });

  it('SIGKILL of a shard', async () => {
    const env = environment();
    await env.withChurn(objects, async () => {
      await env.killShard('shard-c');
      await env.converged(bounds.failoverBoundMs + 10_000);
    });
    await expectInvariants('SIGKILL of a shard');
  });

  it('kill of the sharder leader during a rebalance', async () => {
    const env = environment();
    await env.withChurn(objects, async () => {
      const leader = await env.sharderLeader();
      const joinedAt = Date.now();
      await env.startShard('shard-e');
      await env.drainObserved(joinedAt);
      await env.killSharder(leader);
      await env.startSharder(`${leader}-restarted`);
      await env.converged();
    });
    await expectInvariants('kill of the sharder leader during a rebalance');
  });

  it('rolling restart of all shards', async () => {
    const env = environment();
    await env.withChurn(objects, async () => {
      for (const name of [...env.shards.keys()]) {
        await env.stopShard(name);
        await env.startShard(name);
        await env.converged();
      }
    });
    await expectInvariants('rolling restart of all shards');
  });
});
