// Paused processes (design.md invariant 6): a process stopped with SIGSTOP past its Lease and resumed with
// SIGCONT wakes up believing it still leads, with work half done. Real sharder replicas and shards against a
// real API server, whose audit log tells which process wrote what when; the invariant checker judges the
// whole history, fencing included.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { eventually } from '../support/eventually.ts';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';

// Enough objects, patched one at a time, that a rebalance takes a while: the pause lands in the middle of it.
const objects = Array.from({ length: 300 }, (_, i) => `config-${i}`);
const limits = bounds(leaseDurationSeconds);
let e2e: EndToEnd | undefined;
jest.setTimeout(180_000);

beforeAll(async () => {
  e2e = await EndToEnd.start({ auditLog: true, sharderArgs: ['--sync-concurrency=1'] });
  for (const name of ['shard-a', 'shard-b']) await e2e.startShard(name);
  await e2e.createObjects(objects);
  await e2e.converged(120_000);
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
}, 60_000);

describe('paused processes', () => {
  it('a sharder leader paused past its Lease during a rebalance writes nothing after its deadline', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      const leader = await env.sharderLeader();
      const stops = await env.controllerStops(leader);
      const joinedAt = Date.now();
      await env.startShard('shard-c');
      await env.drainObserved(joinedAt);
      const pausedAt = env.pauseSharder(leader);
      try {
        // Its Lease runs out and the other replica takes over, and continues the rebalance.
        await eventually(
          async () => {
            expect(await env.sharderLeader()).not.toBe(leader);
          },
          {
            timeoutMs: 30_000,
            intervalMs: 200,
          },
        );
      } finally {
        env.resumeSharder(leader);
      }
      // Once its controllers have stopped it can write no more: everything it did after resuming is recorded.
      await eventually(
        async () => {
          expect(await env.controllerStops(leader)).toBeGreaterThan(stops);
        },
        {
          timeoutMs: 30_000,
        },
      );
      await env.converged();

      // The pause landed in the middle of the sync: the leader was patching objects right before it.
      const patched = (await env.writes())
        .filter((w) => w.writer.name === leader && w.resource === 'configmaps' && w.time <= pausedAt)
        .map((w) => w.time);
      expect(pausedAt - Math.max(...patched)).toBeLessThan(1_000);
    });
    expect(
      (await expectInvariants(env, 'sharder leader paused past its Lease during a rebalance', limits)).fenced
        ?.sharderWrites,
    ).toBeGreaterThan(0);
  });

  it('a shard paused past its Lease does not reconcile or acknowledge a drain when it resumes', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      env.pauseShard('shard-b');
      // Its Lease runs out, the sharder acquires it and moves its objects to the others, which reconcile them.
      await env.converged(60_000);
      const code = await env.resumeShard('shard-b');
      // It found its Lease lost and exited, as the example controller does.
      expect(code).toBe(1);
    });
    await env.converged();
    expect(
      (await expectInvariants(env, 'shard paused past its Lease', limits)).fenced?.sharderWrites,
    ).toBeGreaterThan(0);
  });
});
