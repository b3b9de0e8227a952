// The sharder's memory and CPU against the ring's size (invariant 5: its memory does not grow with the sharded
// objects). Runs the sharder as a real process, compiled to JavaScript as the image runs it
// (deploy/image/tsconfig.json) with the NODE_OPTIONS of its default Deployment, on an embedded control plane with
// one shard and a ring of ConfigMaps, and reads its resident memory (VmRSS) settled between syncs: first while
// the ring has no objects (idle), then after the ring has grown to each step and been synced several times, with
// the CPU (utime + stime, /proc/<pid>/stat) each sync took. Each variant (a checkout and node flags) is its own
// process going through every step, one after the other on the same control plane; the ring's objects are
// deleted between variants. The objects are created assigned to the one shard, so that the syncs find nothing to
// do and the webhook is not called: what is measured is the sync's list.
//   npm run bench -- sharder-memory [--steps 1000,10000,30000,100000] [--variant now=.] [--variant main=main]
//     [--variant lite=.,--lite-mode] [--syncs 3] [--sync-period 5] [--through-webhook] [--from-source] [--no-figures]
// A variant is label=ref[,node flag or NAME=value...]; ref . is this checkout. Its flags come after its
// Deployment's NODE_OPTIONS and its variables over the Deployment's env (config/sharder/sharder.yaml of its
// checkout), which they override. Prints a markdown section
// (tables and figure links) and writes the figures to docs/performance/.
import { execFileSync } from 'node:child_process';
import { mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { shardLabel } from '../api/v1alpha1/index.ts';
import { forEachConcurrently } from '../runtime/concurrency.ts';
import type { ListPage } from '../runtime/pager.ts';
import { isTransient, type RestClient } from '../runtime/rest.ts';
import { FakeShard } from '../test/support/fake-shard.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { createNamespace, createRing } from '../test/support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../test/support/sharder.ts';
import { checkout } from './support/checkout.ts';
import { parseVariant, type Variant } from './support/variant.ts';
import { formatNumber, lineChart, markdownTable, writeFigure, type Series } from './support/plot.ts';
import { cpuSeconds, residentBytes } from './support/proc.ts';
import { metrics, sum } from './support/scrape.ts';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000,10000,30000,100000' },
    variant: { type: 'string', multiple: true, default: ['now=.'] },
    // Full syncs after each step before the memory is read.
    syncs: { type: 'string', default: '3' },
    // The sharder's --sync-period in seconds; the memory is read in the second half of one. Short by default, so
    // that syncs follow each other (each is followed by this much quiet: it is the requeue delay); a longer one
    // leaves V8's memory reducer, which shrinks the heap some 8 s after a collection once the process is idle,
    // time to run, as between the syncs of the default period (5 min).
    'sync-period': { type: 'string', default: '5' },
    // Create the objects unassigned, so that the webhook assigns each (its memory then counts too); by default
    // they are created with the shard label, which the webhook's objectSelector leaves to the API server alone.
    'through-webhook': { type: 'boolean', default: false },
    // Run cmd/sharder/main.ts with node's type stripping, which adds its own memory, instead of the JavaScript.
    'from-source': { type: 'boolean', default: false },
    figures: { type: 'boolean', default: true },
  },
  strict: true,
  allowNegative: true,
});
const steps = values.steps.split(',').map(Number);
const syncsPerStep = Number(values.syncs);
const syncPeriodSeconds = Number(values['sync-period']);
if (!(syncPeriodSeconds >= 1))
  throw new Error(`--sync-period: "${values['sync-period']}" is not 1 or more seconds`);
const objectsPath = '/api/v1/namespaces/objects/configmaps';
const mebibyte = 2 ** 20;
const root = fileURLToPath(new URL('..', import.meta.url));

// The Go reference's figures as issue 10 quotes them (3 runs on this machine kind): idle, and settled after a
// full sync of 30,000 objects, with that sync's CPU.
const reference = { idle: 51, rss30k: [113, 120], syncCpu30k: [3.5, 6.3] } as const;

const variants: Variant[] = values.variant.map(parseVariant);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Reading {
  rss: number;
  /** Of the RSS: anonymous memory (V8's heap, malloc) and pages of mapped files (mostly node's code). */
  anonymous: number;
  file: number;
  /** The highest RSS of the process so far (VmHWM). */
  peak: number;
  /** CPU seconds per sync, with the quiet of the sync period that follows it. */
  cpuPerSync: number;
  heapUsed: number;
  heapTotal: number;
}

/**
 * Waits for the sync under way to finish and `count` more after it, then reads the memory in the quiet that
 * follows the last: the median of samples over the second half of the sync period, when a collection has had
 * time to run.
 */
async function settledAfterSyncs(sharder: SharderProcess, count: number): Promise<Reading> {
  const pid = sharder.pid ?? 0;
  const syncs = async (): Promise<number> =>
    sum(await metrics(sharder.probePort), 'controller_runtime_reconcile_total{controller="sync"');
  const waitFor = async (target: number): Promise<void> => {
    while ((await syncs()) < target) await sleep(500);
  };
  await waitFor((await syncs()) + 1);
  const cpuBefore = await cpuSeconds(pid);
  await waitFor((await syncs()) + count);
  const cpuPerSync = ((await cpuSeconds(pid)) - cpuBefore) / count;
  await sleep((syncPeriodSeconds * 1000) / 2);
  const samples: Pick<Reading, 'rss' | 'anonymous' | 'file' | 'heapUsed' | 'heapTotal'>[] = [];
  for (let i = 0; i < 5; i++) {
    const text = await metrics(sharder.probePort);
    samples.push({
      rss: await residentBytes(pid),
      anonymous: await residentBytes(pid, 'RssAnon'),
      file: await residentBytes(pid, 'RssFile'),
      heapUsed: sum(text, 'nodejs_heap_size_used_bytes'),
      heapTotal: sum(text, 'nodejs_heap_size_total_bytes'),
    });
    await sleep(300);
  }
  const median = (pick: (r: (typeof samples)[number]) => number): number =>
    samples.map(pick).sort((a, b) => a - b)[2] ?? NaN;
  return {
    rss: median((r) => r.rss),
    anonymous: median((r) => r.anonymous),
    file: median((r) => r.file),
    peak: await residentBytes(pid, 'VmHWM'),
    cpuPerSync,
    heapUsed: median((r) => r.heapUsed),
    heapTotal: median((r) => r.heapTotal),
  };
}

async function createObjects(rest: RestClient, from: number, to: number): Promise<number> {
  const started = performance.now();
  const names = Array.from({ length: to - from }, (_, i) => `object-${from + i}`);
  const labels = values['through-webhook'] ? {} : { [shardLabel('bench')]: 'shard-0' };
  await forEachConcurrently(names, 16, async (name) => {
    await rest.request({
      method: 'POST',
      path: objectsPath,
      body: { metadata: { name, labels }, data: { v: name } },
    });
  });
  return (performance.now() - started) / 1000;
}

/** Deletes the ring's objects; a collection of 100,000 takes the API server longer than its request timeout. */
async function deleteObjects(rest: RestClient): Promise<void> {
  for (;;) {
    await rest.request({ method: 'DELETE', path: objectsPath }).catch((error: unknown) => {
      if (!isTransient(error)) throw error;
    });
    const left = await rest.request<ListPage<unknown>>({ path: objectsPath, query: { limit: 1 } });
    if ((left.items ?? []).length === 0) return;
  }
}

/** The sharder's main module of `dir`, compiled as the image compiles it unless --from-source, into `outDir`. */
function sharderProgram(dir: string, outDir: string): string {
  if (values['from-source']) return join(dir, 'cmd/sharder/main.ts');
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['-p', join(dir, 'deploy/image/tsconfig.json'), '--outDir', outDir], {
    stdio: 'inherit',
  });
  return join(outDir, 'cmd/sharder/main.js');
}

interface Result {
  variant: Variant;
  flags: string;
  idle: Reading;
  /** Per step, in the order of `steps`; undefined where the process had exited (e.g. out of heap). */
  steps: (Reading & { createdSeconds: number })[];
  exited?: number;
}

const results: Result[] = [];
const cluster = await startTestCluster();
const { rest } = cluster;
try {
  await createNamespace(rest, 'controller-rings-system');
  await createNamespace(rest, 'objects');
  const shard = new FakeShard(rest, {
    ring: 'bench',
    name: 'shard-0',
    namespace: 'objects',
    durationSeconds: 30,
  });
  await shard.join();
  await createRing(rest, 'bench', {
    resources: [{ resource: 'configmaps' }],
    shardLeaseNamespaces: ['objects'],
  });
  for (const variant of variants) {
    const source = await checkout(variant.ref);
    const compiled = await mkdtemp(join(tmpdir(), 'sharder-memory-js-'));
    // The compiled modules resolve their packages from next to them.
    await symlink(await realpath(join(root, 'node_modules')), join(compiled, 'node_modules'));
    const program = sharderProgram(source.dir, compiled);
    const nodeArgs = [...source.nodeOptions, ...variant.nodeArgs];
    const env = { ...source.deploymentEnv, ...variant.env };
    const sharder = await startSharder({
      kubeconfigPath: cluster.controlPlane.kubeconfigPath,
      namespace: 'controller-rings-system',
      identity: `sharder-${variant.label}`,
      certificates: await webhookCertificates(),
      program,
      nodeArgs,
      env,
      args: ['--leader-elect=false', `--sync-period=${syncPeriodSeconds}s`, '--log-level=info'],
    });
    const settings = [...Object.entries(env).map(([name, value]) => `${name}=${value}`), ...nodeArgs].join(
      ' ',
    );
    console.error(`${variant.label}: ${settings} node ${program}`);
    try {
      const result: Result = {
        variant,
        flags: settings,
        idle: await settledAfterSyncs(sharder, syncsPerStep),
        steps: [],
      };
      results.push(result);
      console.error(`  idle: ${mib(result.idle.rss)} MiB`);
      let created = 0;
      for (const target of steps) {
        const createdSeconds = await createObjects(rest, created, target);
        created = target;
        try {
          result.steps.push({ ...(await settledAfterSyncs(sharder, syncsPerStep)), createdSeconds });
          const last = result.steps.at(-1);
          console.error(
            `  ${target}: ${mib(last?.rss ?? NaN)} MiB, ${last?.cpuPerSync.toFixed(2)} s per sync`,
          );
        } catch (error) {
          // E.g. out of heap: the table says so, and the variant ends.
          if (sharder.running) throw error;
          result.exited = target;
          break;
        }
      }
    } finally {
      await sharder.stop();
      await rm(compiled, { recursive: true, force: true });
      await source.remove();
    }
    // The next variant starts from an empty ring. Its webhook no longer answers: deletions are not admitted.
    if (variant !== variants.at(-1)) await deleteObjects(rest);
  }
  shard.crash();
} finally {
  await cluster.stop();
}

function mib(bytes: number): string {
  return (bytes / mebibyte).toFixed(1);
}

const objectsCell = (objects: number): string => objects.toLocaleString('en-US');
const rows: (string | number)[][] = [];
for (const { variant, flags, idle, steps: readings, exited } of results) {
  const row = (objects: number, reading: Reading, note: string, referenceCell: string): void => {
    rows.push([
      variant.label,
      objectsCell(objects),
      `${mib(reading.rss)} MiB`,
      (reading.rss / idle.rss).toFixed(2),
      `${mib(reading.anonymous)} + ${mib(reading.file)} MiB`,
      `${mib(reading.heapUsed)} MiB`,
      `${mib(reading.heapTotal)} MiB`,
      `${mib(reading.peak)} MiB`,
      `${reading.cpuPerSync.toFixed(2)} s`,
      referenceCell,
      note,
    ]);
  };
  row(0, idle, `\`${flags}\``, `${reference.idle} MiB`);
  readings.forEach((reading, index) => {
    const objects = steps[index] ?? 0;
    const referenceCell =
      objects === 30_000 ? `${reference.rss30k.join('-')} MiB, sync ${reference.syncCpu30k.join('-')} s` : '';
    row(objects, reading, `created in ${reading.createdSeconds.toFixed(0)} s`, referenceCell);
  });
  if (exited !== undefined)
    rows.push([variant.label, objectsCell(exited), 'exited', '', '', '', '', '', '', '', '']);
}

const figures: string[] = [];
if (values.figures) {
  const x = { label: 'objects in the ring', log: true } as const;
  const span = (value: number): [number, number][] => [
    [steps[0] ?? 1, value],
    [steps.at(-1) ?? 1, value],
  ];
  const rssSeries: Series[] = results.flatMap(({ variant, idle, steps: readings }) => [
    {
      name: `${variant.label}: settled after syncs`,
      points: readings.map((reading, index) => [steps[index] ?? 0, reading.rss / mebibyte] as const),
    },
    { name: `${variant.label}: idle`, points: span(idle.rss / mebibyte) },
  ]);
  rssSeries.push(
    { name: 'Go reference: idle', points: span(reference.idle) },
    { name: 'Go reference: after 30k (min, max)', points: reference.rss30k.map((v) => [30_000, v] as const) },
  );
  const rssFigure = await writeFigure(
    'sharder-memory-rss',
    lineChart({
      title: "Sharder resident memory against the ring's size",
      x,
      y: { label: 'RSS (MiB)', min: 0 },
      series: rssSeries,
    }),
  );
  const cpuSeries: Series[] = results.map(({ variant, steps: readings }) => ({
    name: `${variant.label}: CPU per sync`,
    points: readings.map((reading, index) => [steps[index] ?? 0, reading.cpuPerSync] as const),
  }));
  cpuSeries.push({
    name: 'Go reference: full sync of 30k (min, max)',
    points: reference.syncCpu30k.map((v) => [30_000, v] as const),
  });
  const cpuFigure = await writeFigure(
    'sharder-memory-cpu',
    lineChart({
      title: "Sharder CPU per sync against the ring's size",
      x,
      y: { label: 'CPU seconds per sync', min: 0 },
      series: cpuSeries,
    }),
  );
  figures.push(
    `![Sharder RSS against the ring's size](${rssFigure})`,
    `![Sharder CPU per sync against the ring's size](${cpuFigure})`,
  );
}

console.log(
  [
    "### Sharder memory and CPU against the ring's size",
    '',
    `Node ${process.version}, ${values['from-source'] ? 'from the TypeScript sources' : 'compiled as the image'}, ` +
      `sync period ${syncPeriodSeconds} s, memory read after 1 + ${syncsPerStep} syncs, objects created ` +
      (values['through-webhook']
        ? 'unassigned (through the webhook)'
        : 'assigned (not through the webhook)') +
      `, steps ${steps.map(formatNumber).join(', ')}.`,
    '',
    markdownTable(
      [
        'sharder',
        'objects',
        'RSS',
        'RSS / idle',
        'anonymous + file',
        'heap used',
        'heap total',
        'RSS peak so far',
        'CPU per sync',
        'Go reference',
        '',
      ],
      rows,
    ),
    '',
    ...figures,
  ].join('\n'),
);
