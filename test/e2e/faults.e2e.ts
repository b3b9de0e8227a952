// Faults around a running ring, with real processes: the API server restarting, etcd compacted under every
// watch, the sharder leader killed in the middle of a large sync, and no sharder at all while objects are
// created. Like scenarios.e2e.ts, one continuous history is judged against invariants 1-4 after each fault.
//
// The control plane serves watches from etcd (--watch-cache=false), as it does for resources whose watch cache
// is off: kube-apiserver 1.37 otherwise answers a watch from its own watch cache, whose history a compaction
// of etcd does not touch (tried: watches from compacted revisions go on unharmed), so a compaction would never
// reach the watchers.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import { eventually } from '../support/eventually.ts';
import { compactEtcd, etcdRevision } from '../support/etcd.ts';
import { EndToEnd, ring } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';

const objects = Array.from({ length: 60 }, (_, i) => `config-${i}`);
// Leases twice as long as scenarios.e2e.ts's: the sync of thousands of objects and the listings that wait for
// it load the API server, and renewals on a busy 2-core machine took seconds.
const leaseDurationSeconds = 6;
const leaderElection = [
  '--leader-election-lease-duration=8s',
  '--leader-election-renew-deadline=6s',
  '--leader-election-retry-period=1s',
];
const limits = bounds(leaseDurationSeconds);
let e2e: EndToEnd | undefined;
jest.setTimeout(180_000);

beforeAll(async () => {
  e2e = await EndToEnd.start({
    apiServerArgs: ['--watch-cache=false'],
    proxy: true,
    restartExitedShards: true,
    leaseDurationSeconds,
    leaderElection,
  });
  for (const name of ['shard-a', 'shard-b', 'shard-c']) await e2e.startShard(name);
  await e2e.createObjects(objects);
  await e2e.converged();
}, 180_000);

afterAll(async () => {
  await e2e?.stop();
}, 60_000);

describe('faults around a ring of example shards', () => {
  it('the API server restarts while shards and sharders run', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      await env.restartApiServer();
      await env.createObjects(['after-restart-0', 'after-restart-1', 'after-restart-2']);
      await env.converged();
    });
    await env.converged();
    console.log(`shard processes that exited on their own (lost their Lease): ${env.shardExits}`);
    await expectInvariants(env, 'API server restart', limits);
  });

  it('etcd is compacted under every watch while objects change: all watches get 410 Gone and relist', async () => {
    const env = started(e2e);
    const etcd = env.cluster.controlPlane.etcdUrl;
    const processes = [...env.sharders.values(), ...env.shards.values()];
    const cutAt = Date.now();
    await env.withChurn(objects, async () => {
      // Every watch of the sharders and shards breaks, and while they are away etcd moves on and forgets:
      // the revision each would resume from is compacted.
      env.cutConnections();
      const cutRevision = await etcdRevision(etcd);
      const revision = await eventually(
        async () => {
          const current = await etcdRevision(etcd);
          if (current < cutRevision + 2) throw new Error(`etcd is still at revision ${current}`);
          return current;
        },
        { intervalMs: 10 },
      );
      await compactEtcd(etcd, revision);
      env.resumeConnections();
      await eventually(
        async () => {
          for (const process of processes) {
            const lines = await env.logLines(process, cutAt);
            const informers = (message: string) =>
              new Set(lines.filter((line) => line.msg === message).map((line) => line.informer));
            const relisted = informers('watch expired, relisting');
            // Each informer's watch failed or ended at the cut; each must have relisted after a 410.
            expect({ process: process.name, relisted: relisted.size > 0 }).toEqual({
              process: process.name,
              relisted: true,
            });
            for (const informer of informers('watch failed')) expect(relisted).toContain(informer);
          }
        },
        { timeoutMs: 30_000 },
      );
      await env.converged();
    });
    await env.converged();
    await expectInvariants(env, 'etcd compaction', limits);
  });

  it('both sharder replicas are down while objects are created; the sync assigns them', async () => {
    const env = started(e2e);
    const unassigned = Array.from({ length: 40 }, (_, i) => `while-sharderless-${i}`);
    await env.withChurn(objects, async () => {
      for (const identity of [...env.sharders.keys()]) await env.killSharder(identity);
      const created = await env.createObjects(unassigned, 4);
      // No webhook answers: failurePolicy Ignore admits them as they are.
      expect(created.filter((object) => object.metadata.labels?.[shardLabel(ring)] !== undefined)).toEqual(
        [],
      );
      for (const identity of ['sharder-2', 'sharder-3']) await env.startSharder(identity);
      await env.converged();
    });
    await env.converged();
    await expectInvariants(env, 'both sharder replicas down', limits);
  });

  it('SIGKILL of the sharder leader in the middle of a sync of 2,000 objects', async () => {
    const env = started(e2e);
    const bulk = Array.from({ length: 2_000 }, (_, i) => `bulk-${i}`);
    const createdAt = Date.now();
    await env.createObjects(bulk, 8);
    console.log(`created ${bulk.length} objects in ${Date.now() - createdAt} ms`);
    await env.converged(120_000);
    console.log(`converged ${Date.now() - createdAt} ms after the first creation`);
    await env.withChurn(objects, async () => {
      const leader = await env.sharderLeader();
      const joinedAt = Date.now();
      await env.startShard('shard-d');
      await env.drainObserved(joinedAt);
      await env.killSharder(leader);
      const successor = await eventually(async () => {
        const current = await env.sharderLeader();
        if (current === leader) throw new Error(`${leader} still holds the leader Lease`);
        return current;
      });
      const takenOverAt = Date.now();
      console.log(`${successor} took over ${takenOverAt - joinedAt} ms after shard-d joined`);
      await env.startSharder(`${leader}-restarted`);
      await env.converged(120_000);
      // The kill interrupted the sync: the new leader drained objects the old one had not come to.
      expect(env.drainsObservedSince(takenOverAt)).toBeGreaterThan(0);
    });
    await env.converged();
    // Hundreds of objects land on a shard at once (a join's drains, a lost shard's moves) and wait in its queue
    // of 4 workers: the bound on its first reconcile grows with the queue (here: ~1,000 objects at 40-100/s
    // on a busy machine). Everything before was judged with the tighter bound already.
    await expectInvariants(env, 'sharder leader SIGKILL during a large sync', {
      ...limits,
      reconcileBoundMs: 30_000,
    });
  });
});
