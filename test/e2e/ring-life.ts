// The steps of a ring's life that end-to-end files run alike, whatever assigns the ring's objects (the webhook
// or the watch): each under churn of the ring's objects, until the ring has converged. The files judge the
// history after each.
import { expect } from '@jest/globals';
import type { EndToEnd } from './harness.ts';
import type { Bounds } from './judge.ts';

/** 3 shards start and the objects are created. */
export async function steadyState(env: EndToEnd, objects: string[]): Promise<void> {
  for (const name of ['shard-a', 'shard-b', 'shard-c']) await env.startShard(name);
  await env.withChurn(objects, async () => {
    await env.createObjects(objects);
    await env.converged();
  });
  await env.converged();
}

/** A 4th shard joins; about a quarter of the objects move to it, each through a drain. */
export async function scaleOut(env: EndToEnd, objects: string[], limits: Bounds): Promise<void> {
  await env.withChurn(objects, async () => {
    await env.startShard('shard-d');
    await env.converged();
  });
  await env.converged();
  const summary = await env.check(limits);
  expect(summary.moves.drained).toBeGreaterThan(objects.length / 10);
}

/** A shard is killed with SIGKILL; its objects are reconciled elsewhere once its Lease runs out. */
export async function killShard(env: EndToEnd, objects: string[], limits: Bounds): Promise<void> {
  await env.withChurn(objects, async () => {
    await env.killShard('shard-c');
    await env.converged(limits.failoverBoundMs + 10_000);
  });
}

/** The sharder leader is killed while a joining shard's drains are under way; a new replica starts. */
export async function killLeaderDuringRebalance(env: EndToEnd, objects: string[]): Promise<void> {
  await env.withChurn(objects, async () => {
    const leader = await env.sharderLeader();
    const joinedAt = Date.now();
    await env.startShard('shard-e');
    await env.drainObserved(joinedAt);
    await env.killSharder(leader);
    await env.startSharder(`${leader}-restarted`);
    await env.converged();
  });
}
