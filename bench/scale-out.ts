// Scale-out: the initial reconcile of N ConfigMaps by 1, 2, 3 and 4 shards of the example controller, each shard
// bounded as a real controller is (a client rate limit and a fixed number of workers). Throughput is ConfigMaps
// reconciled per second as the API server sees it: the times at which a watch of the ring's Secrets delivers each
// digest Secret's creation, from the first to the last. Per configuration: FakeShards hold the shards' Leases
// while the ConfigMaps are created (the webhook assigns each), then the real shards take their Leases over as a
// restarted Deployment's pods do and reconcile what they find: their start is the controller's initial
// reconcile, with the sharder's assignment done before it (its speed is not what is measured).
//   npm run bench -- scale-out [--objects 2000] [--shards 1,2,3,4] [--runs 3] [--qps 40] [--burst 10]
//     [--workers 4] [--data-bytes 256]
import { parseArgs } from 'node:util';
import {
  assignments,
  createConfigMaps,
  deleteObjects,
  holdLeases,
  ringHasShards,
  SecretWatch,
  shardDir,
  startExampleRing,
  startShards,
} from './support/example-ring.ts';
import { cpuSeconds, descendants, machineCpu } from './support/proc.ts';
import { lineChart, markdownTable, writeFigure } from './support/plot.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '2000' },
    shards: { type: 'string', default: '1,2,3,4' },
    runs: { type: 'string', default: '3' },
    qps: { type: 'string', default: '40' },
    burst: { type: 'string', default: '10' },
    workers: { type: 'string', default: '4' },
    'data-bytes': { type: 'string', default: '256' },
  },
  strict: true,
});
const objects = Number(values.objects);
const shardCounts = values.shards.split(',').map(Number);
const runs = Number(values.runs);
const qps = Number(values.qps);
const burst = Number(values.burst);
const workers = Number(values.workers);
const dataBytes = Number(values['data-bytes']);
const limits = [`--workers=${workers}`, `--kube-api-qps=${qps}`, `--kube-api-burst=${burst}`];

interface Result {
  run: number;
  shards: number;
  /** ConfigMaps per second, first digest Secret to last. */
  throughput: number;
  seconds: number;
  /** The largest shard's share of the objects: the shard that finishes last. */
  largestShare: number;
  /** From the shards' start to the first Secret: joining, the cache's list, the first reconcile. */
  startupSeconds: number;
  /** ConfigMaps per second while every shard was reconciling: from the last shard's first Secret to the first
   * shard's last. Free of the shards' staggered starts and of the hash ring's imbalance. */
  steadyThroughput: number;
  /** Each shard's own rate (its first to last Secret), the mean over the shards: its limit is qps / 2. */
  perShard: number;
  /** The API server's, etcd's and the controller manager's CPU over the reconciles, in cores. */
  controlPlaneCores: number;
  /** The machine's CPU busy over the reconciles, of all its cores, other jobs on it included. */
  machineBusy: number;
  /** CPU of all shards together per 1,000 ConfigMaps. */
  shardCpuPerThousand: number;
}

const results: Result[] = [];
const bench = await startExampleRing();
const { rest } = bench.cluster;
try {
  for (let run = 1; run <= runs; run++) {
    for (const count of shardCounts) {
      const names = Array.from({ length: count }, (_, i) => `run${run}-of${count}-${i}`);
      const fakes = await holdLeases(rest, names);
      await ringHasShards(rest, count);
      await createConfigMaps(rest, 0, objects, dataBytes);
      const { perShard } = await assignments(rest);
      if ((perShard.get('')?.length ?? 0) > 0) throw new Error('some ConfigMaps were left unassigned');
      const largest = Math.max(...names.map((name) => perShard.get(name)?.length ?? 0));
      const watch = await SecretWatch.start(rest);
      const controlPlane = await descendants(bench.cluster.controlPlane.pid);
      const controlPlaneCpu = async (): Promise<number> =>
        (await Promise.all(controlPlane.map((pid) => cpuSeconds(pid).catch(() => 0)))).reduce(
          (sum, seconds) => sum + seconds,
          0,
        );
      const cpuBefore = await machineCpu();
      const controlPlaneBefore = await controlPlaneCpu();
      for (const fake of fakes) fake.crash();
      const startedAt = Date.now();
      const shards = await startShards(names, {
        kubeconfigPath: bench.cluster.controlPlane.kubeconfigPath,
        logDir: await shardDir(bench.logDir, `run${run}-of${count}`),
        leaseDurationSeconds: 15,
        args: limits,
      });
      // Generous: the slowest configuration's expected time, three times over.
      await watch.until(objects, Math.max(60_000, ((3 * objects) / (qps / 2)) * 1000));
      const cpuAfter = await machineCpu();
      const controlPlaneSeconds = (await controlPlaneCpu()) - controlPlaneBefore;
      const wallSeconds = (Date.now() - startedAt) / 1000;
      const shardCpu = (await Promise.all(shards.map((shard) => cpuSeconds(shard.pid ?? 0)))).reduce(
        (sum, seconds) => sum + seconds,
        0,
      );
      await watch.stop();
      const times = [...watch.created.values()].sort((a, b) => a - b);
      const first = times[0] ?? startedAt;
      const seconds = ((times.at(-1) ?? first) - first) / 1000;
      const spans = names.map((name) => {
        const own = [...watch.created]
          .filter(([object]) => watch.shardOf.get(object) === name)
          .map(([, time]) => time)
          .sort((a, b) => a - b);
        return { first: own[0] ?? NaN, last: own.at(-1) ?? NaN, count: own.length };
      });
      const steadyFrom = Math.max(...spans.map((span) => span.first));
      const steadyTo = Math.min(...spans.map((span) => span.last));
      const inSteady = times.filter((time) => time >= steadyFrom && time <= steadyTo).length;
      const result: Result = {
        run,
        shards: count,
        throughput: (objects - 1) / seconds,
        seconds,
        steadyThroughput: ((inSteady - 1) / (steadyTo - steadyFrom)) * 1000,
        perShard:
          spans.reduce((sum, span) => sum + ((span.count - 1) / (span.last - span.first)) * 1000, 0) / count,
        controlPlaneCores: controlPlaneSeconds / wallSeconds,
        largestShare: largest / objects,
        startupSeconds: (first - startedAt) / 1000,
        machineBusy: (cpuAfter.busy - cpuBefore.busy) / (cpuAfter.total - cpuBefore.total),
        shardCpuPerThousand: (shardCpu / objects) * 1000,
      };
      results.push(result);
      console.error(`run ${run}, ${count} shard(s): ${JSON.stringify(result)}`);
      await Promise.all(shards.map((shard) => shard.stop()));
      await deleteObjects(rest);
    }
  }
} finally {
  await bench.stop();
}

const byRun = (run: number, shards: number): Result | undefined =>
  results.find((result) => result.run === run && result.shards === shards);
const range = (numbers: number[], digits: number): string => {
  const low = Math.min(...numbers).toFixed(digits);
  const high = Math.max(...numbers).toFixed(digits);
  return low === high ? low : `${low}..${high}`;
};
const ratios = (shards: number, field: 'throughput' | 'steadyThroughput'): number[] =>
  Array.from({ length: runs }, (_, i) => {
    const base = byRun(i + 1, 1)?.[field] ?? NaN;
    return (byRun(i + 1, shards)?.[field] ?? NaN) / base;
  });
const rows = shardCounts.map((shards) => {
  const mine = results.filter((result) => result.shards === shards);
  const pick = (field: keyof Result, digits: number): string =>
    range(
      mine.map((result) => result[field]),
      digits,
    );
  return [
    shards,
    pick('throughput', 1),
    range(ratios(shards, 'throughput'), 2),
    (0.9 * shards).toFixed(1),
    pick('seconds', 1),
    range(ratios(shards, 'steadyThroughput'), 2),
    pick('perShard', 1),
    range(
      mine.map((result) => result.largestShare * 100),
      1,
    ),
    pick('startupSeconds', 1),
    pick('controlPlaneCores', 2),
    range(
      mine.map((result) => result.machineBusy * 100),
      0,
    ),
    pick('shardCpuPerThousand', 2),
  ];
});
const figure = await writeFigure(
  'scale-out',
  lineChart({
    title: `Initial reconcile of ${objects} ConfigMaps: throughput against one shard`,
    x: { label: 'shards', min: 0 },
    y: { label: 'throughput / one shard’s (same run)', min: 0 },
    series: [
      { name: 'ideal (= shards)', points: shardCounts.map((shards) => [shards, shards] as const) },
      { name: 'target (0.9 × shards)', points: shardCounts.map((shards) => [shards, 0.9 * shards] as const) },
      ...Array.from({ length: runs }, (_, i) => ({
        name: `run ${i + 1}`,
        points: shardCounts.map((shards) => [shards, ratios(shards, 'throughput')[i] ?? NaN] as const),
      })),
    ],
  }),
);
console.log(
  [
    `### Scale-out: initial reconcile of ${objects} ConfigMaps`,
    '',
    `Node ${process.version}; each shard ${workers} workers, its reconciles' client limited to ${qps} requests/s ` +
      `(burst ${burst}); ConfigMaps with ${dataBytes} bytes of data; ${runs} runs, min..max.`,
    '',
    markdownTable(
      [
        'shards',
        'ConfigMaps/s',
        'vs one shard (same run)',
        'target',
        'first to last Secret, s',
        'all shards busy: vs one shard',
        'per shard, ConfigMaps/s',
        'largest shard’s share %',
        'start to first Secret, s',
        'control plane, cores',
        'machine CPU busy %',
        'shards’ CPU s per 1,000',
      ],
      rows,
    ),
    '',
    `![throughput against shards](${figure})`,
  ].join('\n'),
);
