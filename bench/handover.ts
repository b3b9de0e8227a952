// Handover and failover: how long objects are without a shard reconciling them when shards come and go. On a
// ring of N ConfigMaps (each with its digest Secret) reconciled by 3 shards of the example controller:
// - join: a 4th shard joins; the time from its Lease's acquisition (the API server's record of the join) until
//   every object the hash ring gives it (drained from the other shards, each handing over the Secret and then
//   the ConfigMap) has been reconciled by it without error;
// - failover: one of the 4 is killed with SIGKILL; the time from the kill until every object it held has been
//   reconciled without error by another shard: its Lease runs out, the sharder takes it over and moves the
//   objects (no drain: the shard is dead). The bound is 2 × the Lease duration + 2 s.
// Reconciles are read from the shards' record files (one line per reconcile start and end, written at once).
//   npm run bench -- handover [--objects 2000] [--runs 3] [--lease-duration 10] [--qps Q] [--sync-concurrency C]
import { parseArgs } from 'node:util';
import { HashRing } from '../sharding/ring.ts';
import { readRecords, type ExampleShard } from '../test/support/example-shard.ts';
import {
  assignments,
  createConfigMaps,
  deleteObjects,
  ringHasShards,
  SecretWatch,
  shardDir,
  shardNamespace,
  sleep,
  startExampleRing,
  startShards,
} from './support/example-ring.ts';
import { barChart, markdownTable, writeFigure } from './support/plot.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '2000' },
    runs: { type: 'string', default: '3' },
    'lease-duration': { type: 'string', default: '10' },
    // The shards' reconciles unlimited by default: what is measured is the protocol's handover, not a rate limit.
    qps: { type: 'string' },
    'data-bytes': { type: 'string', default: '256' },
    // The sharder's object patches at once per ring (its --sync-concurrency); default the sharder's own default.
    'sync-concurrency': { type: 'string' },
  },
  strict: true,
});
const objects = Number(values.objects);
const runs = Number(values.runs);
const leaseDurationSeconds = Number(values['lease-duration']);
const dataBytes = Number(values['data-bytes']);
const shardArgs = values.qps === undefined ? [] : [`--kube-api-qps=${values.qps}`];
const bound = 2 * leaseDurationSeconds + 2;

interface Result {
  run: number;
  moved: number;
  /** From the new shard's Lease acquisition until it reconciled the last of its objects. */
  joinSeconds: number;
  /** From the new shard's process start until then: its start-up (Node, caches) included. */
  joinFromStartSeconds: number;
  killed: number;
  /** From the SIGKILL until another shard reconciled the last of the killed shard's objects. */
  failoverSeconds: number;
  /** From the SIGKILL until the last of them was first started on another shard (after the sharder moved it). */
  failoverStartSeconds: number;
  /** From the SIGKILL until the sharder acquired the dead shard's Lease: the Lease's states, design.md. */
  acquiredSeconds: number;
}

/** When each of `keys` was first reconciled without error by `shards` after `since`; NaN where not yet. */
async function reconciledAt(
  shards: readonly ExampleShard[],
  keys: ReadonlySet<string>,
  since: number,
): Promise<Map<string, number>> {
  const done = new Map<string, number>();
  for (const shard of shards) {
    for (const line of await readRecords(shard.recordFile)) {
      if (line.event !== 'end' || line.error !== undefined || line.time < since || !keys.has(line.object))
        continue;
      done.set(line.object, Math.min(done.get(line.object) ?? Infinity, line.time));
    }
  }
  return done;
}

/** Waits until every one of `keys` was reconciled by one of `shards` after `since`; returns the last time. */
async function allReconciled(
  shards: () => readonly ExampleShard[],
  keys: ReadonlySet<string>,
  since: number,
  timeoutMs: number,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const done = await reconciledAt(shards(), keys, since);
    if (done.size === keys.size) return Math.max(...done.values());
    if (Date.now() > deadline)
      throw new Error(`${keys.size - done.size} of ${keys.size} objects not reconciled in ${timeoutMs} ms`);
    await sleep(200);
  }
}

/** A Lease's acquireTime in ms since the epoch. */
async function acquiredAt(rest: ExampleRingRest, name: string): Promise<number> {
  const lease = await rest.request<{ spec?: { acquireTime?: string } }>({
    path: `/apis/coordination.k8s.io/v1/namespaces/${shardNamespace}/leases/${name}`,
  });
  return Date.parse(lease.spec?.acquireTime ?? '');
}
type ExampleRingRest = Awaited<ReturnType<typeof startExampleRing>>['cluster']['rest'];

const keyOf = (object: string): string => `/ConfigMap/${object}`;
const results: Result[] = [];
const syncConcurrency = values['sync-concurrency'];
const bench = await startExampleRing(
  syncConcurrency === undefined ? [] : [`--sync-concurrency=${syncConcurrency}`],
);
const { rest } = bench.cluster;
try {
  for (let run = 1; run <= runs; run++) {
    const names = Array.from({ length: 4 }, (_, i) => `run${run}-${i}`);
    const start = {
      kubeconfigPath: bench.cluster.controlPlane.kubeconfigPath,
      logDir: await shardDir(bench.logDir, `run${run}`),
      leaseDurationSeconds,
      args: shardArgs,
    };
    const shards = await startShards(names.slice(0, 3), start);
    await ringHasShards(rest, 3);
    const watch = await SecretWatch.start(rest);
    await createConfigMaps(rest, 0, objects, dataBytes);
    await watch.until(objects, 300_000);
    await watch.stop();

    // The join. The objects the hash ring gives the new shard are the ones drained to it.
    const all = [...(await assignments(rest)).perShard.values()].flat();
    const ring = new HashRing(names);
    const newShard = names[3] ?? '';
    const moving = new Set(all.filter((object) => ring.shardFor(keyOf(object)) === newShard));
    const processStart = Date.now();
    const [joined] = await startShards([newShard], start);
    if (joined === undefined) throw new Error('no shard started');
    shards.push(joined);
    const joinedAt = await acquiredAt(rest, newShard);
    const joinDone = await allReconciled(() => [joined], moving, joinedAt, 120_000);
    const after = await assignments(rest);
    if ((after.perShard.get(newShard)?.length ?? 0) !== moving.size || after.draining > 0)
      throw new Error('the new shard does not hold exactly the objects the hash ring gives it');

    // The failover: every object of the killed shard reconciled by another.
    const victim = shards[0];
    const victimName = names[0] ?? '';
    const held = new Set(after.perShard.get(victimName) ?? []);
    await sleep(1000);
    const killedAt = Date.now();
    await victim?.kill();
    const survivors = shards.slice(1);
    const failoverDone = await allReconciled(() => survivors, held, killedAt, 120_000);
    // The sharder's acquisition (it holds the Lease until it deletes it as orphaned, a minute later).
    const acquired = await acquiredAt(rest, victimName);
    // The first reconcile start of each object on its new shard follows its move by the sharder.
    let lastStart = 0;
    for (const shard of survivors) {
      for (const line of await readRecords(shard.recordFile)) {
        if (line.event === 'start' && line.time >= killedAt && held.has(line.object))
          lastStart = Math.max(lastStart, line.time);
      }
    }
    const result: Result = {
      run,
      moved: moving.size,
      joinSeconds: (joinDone - joinedAt) / 1000,
      joinFromStartSeconds: (joinDone - processStart) / 1000,
      killed: held.size,
      failoverSeconds: (failoverDone - killedAt) / 1000,
      failoverStartSeconds: (lastStart - killedAt) / 1000,
      acquiredSeconds: (acquired - killedAt) / 1000,
    };
    results.push(result);
    console.error(`run ${run}: ${JSON.stringify(result)}`);
    await Promise.all(survivors.map((shard) => shard.stop()));
    await deleteObjects(rest);
  }
} finally {
  await bench.stop();
}

const range = (numbers: number[], digits = 1): string => {
  const low = Math.min(...numbers).toFixed(digits);
  const high = Math.max(...numbers).toFixed(digits);
  return low === high ? low : `${low}..${high}`;
};
const pick = (field: keyof Result): number[] => results.map((result) => result[field]);
const figure = await writeFigure(
  syncConcurrency === undefined ? 'handover' : `handover-sync-concurrency-${syncConcurrency}`,
  barChart({
    title: `Handover and failover: ${objects} ConfigMaps, L = ${leaseDurationSeconds} s${syncConcurrency === undefined ? '' : `, sync ${syncConcurrency} at once`}`,
    y: { label: 'seconds', min: 0 },
    bars: [
      ['join (from Lease)', pick('joinSeconds')],
      ['join (from start)', pick('joinFromStartSeconds')],
      ['failover', pick('failoverSeconds')],
      ['bound: 2 × L + 2 s', [bound]],
    ].map(([label, numbers]) => {
      const list = numbers as number[];
      const sorted = [...list].sort((a, b) => a - b);
      return {
        label: label as string,
        value: sorted[Math.floor(sorted.length / 2)] ?? NaN,
        low: sorted[0] ?? NaN,
        high: sorted.at(-1) ?? NaN,
      };
    }),
  }),
);
console.log(
  [
    `### Handover and failover: ${objects} ConfigMaps, 3 → 4 shards, then one killed`,
    '',
    `Node ${process.version}; the shards' Lease ${leaseDurationSeconds} s (renew deadline ` +
      `${((leaseDurationSeconds * 2) / 3).toFixed(1)} s, retry ${(leaseDurationSeconds / 7.5).toFixed(1)} s); ` +
      `shards' requests ${values.qps === undefined ? 'not limited' : `limited to ${values.qps}/s`}; ` +
      `sharder's --sync-concurrency ${syncConcurrency ?? 'default'}; ` +
      `${runs} runs, min..max.`,
    '',
    markdownTable(
      ['what', 'objects', 'seconds', 'bound'],
      [
        [
          'join: from the new Lease to the last drained object reconciled',
          range(pick('moved'), 0),
          range(pick('joinSeconds')),
          '',
        ],
        ['join: from the new process’s start', '', range(pick('joinFromStartSeconds')), ''],
        [
          'failover: from SIGKILL to the last object reconciled elsewhere',
          range(pick('killed'), 0),
          range(pick('failoverSeconds')),
          `${bound} s`,
        ],
        [
          'failover: from SIGKILL to the sharder’s acquisition of the Lease',
          '',
          range(pick('acquiredSeconds')),
          `${2 * leaseDurationSeconds} s (2 × Lease)`,
        ],
        [
          'failover: from SIGKILL to the last reconcile start elsewhere',
          '',
          range(pick('failoverStartSeconds')),
          '',
        ],
      ],
    ),
    '',
    `![handover and failover times](${figure})`,
  ].join('\n'),
);
