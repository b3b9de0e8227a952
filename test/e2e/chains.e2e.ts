// A chain of controllers with real processes: the sharder (two replicas) and example shards that keep, per
// ConfigMap of the ring, a digest Secret it controls and a ServiceAccount the Secret controls (ConfigMap →
// Secret → ServiceAccount, --digest-service-accounts), the ConfigMaps changing throughout. Through a join, a
// shard's SIGKILL and a kill of the sharder leader during a rebalance, in both assignment modes, the whole
// history keeps the design's invariants, every level ends on its root's shard with the current digest
// (converged()), and a level leaves a live shard only once its root was drained from it (the chain rule).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';
import { killLeaderDuringRebalance, killShard, scaleOut, steadyState } from './ring-life.ts';

const objects = Array.from({ length: 60 }, (_, i) => `config-${i}`);
const limits = bounds(leaseDurationSeconds);
jest.setTimeout(120_000);

describe.each(['Webhook', 'Watch'] as const)('a chain of controllers with assignment: %s', (assignment) => {
  let e2e: EndToEnd | undefined;

  beforeAll(async () => {
    e2e = await EndToEnd.start({ chain: true, assignment });
  }, 120_000);

  afterAll(async () => {
    await e2e?.stop();
  }, 60_000);

  it('steady state with 3 shards', async () => {
    const env = started(e2e);
    await steadyState(env, objects);
    await expectInvariants(env, `chains (${assignment}): steady state with 3 shards`, limits);
  });

  it('scale-out 3 -> 4 hands levels over with their drained roots', async () => {
    const env = started(e2e);
    const before = (await env.check(limits)).levelMoves?.drained ?? 0;
    await scaleOut(env, objects, limits);
    const summary = await expectInvariants(env, `chains (${assignment}): scale-out 3 -> 4`, limits);
    expect(summary.levelMoves?.drained ?? 0).toBeGreaterThan(before);
  });

  it('SIGKILL of a shard', async () => {
    const env = started(e2e);
    await killShard(env, objects, limits);
    await expectInvariants(env, `chains (${assignment}): SIGKILL of a shard`, limits);
  });

  it('kill of the sharder leader during a rebalance', async () => {
    const env = started(e2e);
    await killLeaderDuringRebalance(env, objects);
    await expectInvariants(
      env,
      `chains (${assignment}): kill of the sharder leader during a rebalance`,
      limits,
    );
  });
});
