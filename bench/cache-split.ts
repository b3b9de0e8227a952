// Cache split: a shard caches only its own objects, so with 3 shards each holds about a third of what one shard
// holding the whole ring does. Measures the example controller's shards (real processes) on a ring of N
// ConfigMaps with D bytes of data each, and their digest Secrets: the V8 heap used after a full garbage
// collection (forced through the inspector, so that it is what the process retains, not when its collector
// last ran) and the resident set (VmRSS), first with one shard holding the whole ring, then with 3 shards, each
// read once it has reconciled its objects. Each shard's heap is also read before any object exists (idle): the
// part of the heap that is the cache is the difference.
//   npm run bench -- cache-split [--objects 3000] [--data-bytes 131072] [--runs 3]
import { parseArgs } from 'node:util';
import type { ExampleShard } from '../test/support/example-shard.ts';
import {
  assignments,
  createConfigMaps,
  deleteObjects,
  reclaimEtcd,
  ringHasShards,
  SecretWatch,
  shardDir,
  sleep,
  startExampleRing,
  startShards,
} from './support/example-ring.ts';
import { heapUsedAfterGc, inspectFlag } from './support/inspector.ts';
import { barChart, markdownTable, writeFigure } from './support/plot.ts';
import { residentBytes } from './support/proc.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '3000' },
    'data-bytes': { type: 'string', default: '131072' },
    runs: { type: 'string', default: '3' },
  },
  strict: true,
});
const objects = Number(values.objects);
const dataBytes = Number(values['data-bytes']);
const runs = Number(values.runs);
const mebibyte = 2 ** 20;

interface Reading {
  heap: number;
  rss: number;
  idleHeap: number;
  objects: number;
}

const bench = await startExampleRing();
const { rest } = bench.cluster;

/** Runs `names` as the ring's shards over N fresh objects and reads each shard's memory. */
async function measure(run: number, names: string[]): Promise<Reading[]> {
  const shards: ExampleShard[] = await startShards(names, {
    kubeconfigPath: bench.cluster.controlPlane.kubeconfigPath,
    logDir: await shardDir(bench.logDir, `run${run}-of${names.length}`),
    // Long: the memory does not depend on it, and writing hundreds of MiB keeps the API server busy enough on 2
    // cores that renewals inside a 15 s Lease's 10 s deadline failed (the shard then exits).
    leaseDurationSeconds: 60,
    args: [],
    nodeArgs: [inspectFlag],
  });
  try {
    await ringHasShards(rest, names.length);
    const idle = await Promise.all(shards.map((shard) => heapUsedAfterGc(shard.logPath)));
    const watch = await SecretWatch.start(rest);
    await createConfigMaps(rest, 0, objects, dataBytes);
    await watch.until(objects, 600_000);
    await watch.stop();
    // The last reconciles' answers and events settle.
    await sleep(3000);
    const { perShard } = await assignments(rest);
    return await Promise.all(
      shards.map(async (shard, i) => ({
        heap: await heapUsedAfterGc(shard.logPath),
        rss: await residentBytes(shard.pid ?? 0),
        idleHeap: idle[i] ?? NaN,
        objects: perShard.get(names[i] ?? '')?.length ?? 0,
      })),
    );
  } finally {
    await Promise.all(shards.map((shard) => shard.stop()));
    await deleteObjects(rest);
    await reclaimEtcd(bench.cluster.controlPlane.etcdUrl);
  }
}

interface Result {
  run: number;
  one: Reading;
  three: Reading[];
}
const results: Result[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    const [one] = await measure(run, [`run${run}-one`]);
    const three = await measure(
      run,
      [0, 1, 2].map((i) => `run${run}-three-${i}`),
    );
    if (one === undefined) throw new Error('no reading');
    results.push({ run, one, three });
    console.error(`run ${run}: ${JSON.stringify({ one, three })}`);
  }
} finally {
  await bench.stop();
}

const mib = (bytes: number): string => (bytes / mebibyte).toFixed(1);
const range = (numbers: number[], format: (n: number) => string): string => {
  const low = format(Math.min(...numbers));
  const high = format(Math.max(...numbers));
  return low === high ? low : `${low}..${high}`;
};
const ratio = (n: number): string => n.toFixed(2);
const largest = (result: Result, pick: (reading: Reading) => number): number =>
  Math.max(...result.three.map(pick));
const cache = (reading: Reading): number => reading.heap - reading.idleHeap;
const column = (pick: (result: Result) => number, format: (n: number) => string): string =>
  range(results.map(pick), format);
const rows = [
  [
    'one shard holding the ring',
    column((result) => result.one.objects, String),
    column((result) => result.one.idleHeap, mib),
    column((result) => result.one.heap, mib),
    column((result) => cache(result.one), mib),
    column((result) => result.one.rss, mib),
  ],
  [
    'the largest of 3 shards',
    column((result) => largest(result, (reading) => reading.objects), String),
    column((result) => largest(result, (reading) => reading.idleHeap), mib),
    column((result) => largest(result, (reading) => reading.heap), mib),
    column((result) => largest(result, cache), mib),
    column((result) => largest(result, (reading) => reading.rss), mib),
  ],
  [
    'ratio, same run (target ≤ 0.40 for the heap)',
    column((result) => largest(result, (reading) => reading.objects) / result.one.objects, ratio),
    '',
    column((result) => largest(result, (reading) => reading.heap) / result.one.heap, ratio),
    column((result) => largest(result, cache) / cache(result.one), ratio),
    column((result) => largest(result, (reading) => reading.rss) / result.one.rss, ratio),
  ],
];
const bar = (
  label: string,
  pick: (result: Result) => number,
): { label: string; value: number; low: number; high: number } => {
  const numbers = results
    .map(pick)
    .map((bytes) => bytes / mebibyte)
    .sort((a, b) => a - b);
  return {
    label,
    value: numbers[Math.floor(numbers.length / 2)] ?? NaN,
    low: numbers[0] ?? NaN,
    high: numbers.at(-1) ?? NaN,
  };
};
const figure = await writeFigure(
  'cache-split',
  barChart({
    title: `V8 heap after GC, ${objects} ConfigMaps of ${formatBytes(dataBytes)} (median, min..max of ${runs} runs)`,
    y: { label: 'MiB', min: 0 },
    bars: [
      bar('1 shard: idle', (result) => result.one.idleHeap),
      bar('1 shard: whole ring', (result) => result.one.heap),
      bar('3 shards: largest, idle', (result) => largest(result, (reading) => reading.idleHeap)),
      bar('3 shards: largest', (result) => largest(result, (reading) => reading.heap)),
    ],
  }),
);
function formatBytes(bytes: number): string {
  return bytes >= 1024 ? `${(bytes / 1024).toFixed(0)} KiB` : `${bytes} bytes`;
}
console.log(
  [
    `### Cache split: one shard's memory with 3 shards against one shard holding the ring`,
    '',
    `Node ${process.version}; ${objects} ConfigMaps with ${formatBytes(dataBytes)} of data each, and their ` +
      `digest Secrets; ${runs} runs, min..max. Heap: V8 heap used after a full GC (inspector). MiB.`,
    '',
    markdownTable(['', 'ConfigMaps', 'heap idle', 'heap', 'heap − idle (the cache)', 'RSS'], rows),
    '',
    `![heap of one shard against three](${figure})`,
  ].join('\n'),
);
