// Invariant 5: the sharder's memory does not grow with the number of sharded objects. Runs the sharder as a
// real process (heap limit as its default Deployment sets it) on an embedded control plane with one shard and
// a ring of ConfigMaps, and reads its resident memory (VmRSS) settled between syncs: first while the ring has
// no objects (idle), then after the ring has grown to each step and been synced several times. Each variant
// (a checkout and node flags) is its own process going through every step, one after the other on the same
// control plane; the ring's objects are deleted between variants. The objects are created assigned to the one
// shard, so that the syncs find nothing to do and the webhook is not called: what is measured is the sync's list.
//   npx node bench/sharder-memory.ts [--steps 1000,10000,30000] [--variant now=.] [--variant main=main]
//     [--variant semi=.,--max-semi-space-size=1]   a variant is label=ref[,node flag...]; ref . is this checkout.
// A variant runs with the NODE_OPTIONS its checkout's Deployment sets (config/sharder/sharder.yaml), then its own
// flags, which override them.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises';
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

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '1000,10000,30000' },
    variant: { type: 'string', multiple: true, default: ['now=.'] },
    // Full syncs after each step before the memory is read.
    syncs: { type: 'string', default: '3' },
    // Create the objects unassigned, so that the webhook assigns each (its memory then counts too); by default
    // they are created with the shard label, which the webhook's objectSelector leaves to the API server alone.
    'through-webhook': { type: 'boolean', default: false },
  },
  strict: true,
});
const steps = values.steps.split(',').map(Number);
const syncsPerStep = Number(values.syncs);
// Short, so that syncs follow each other; each sync is followed by this much quiet (it is the requeue delay).
const syncPeriodSeconds = 5;
const objectsPath = '/api/v1/namespaces/objects/configmaps';
const mebibyte = 2 ** 20;
const root = fileURLToPath(new URL('..', import.meta.url));

interface Variant {
  label: string;
  ref: string;
  nodeArgs: string[];
}

const variants: Variant[] = values.variant.map((spec) => {
  const [label, rest = '.'] = spec.split(/=(.*)/s);
  const [ref = '.', ...nodeArgs] = rest.split(',');
  if (label === undefined || label === '') throw new Error(`--variant ${spec}: expected label=ref[,flag...]`);
  return { label, ref, nodeArgs };
});

async function metrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** The sum of a metric's samples whose line starts with `prefix` (a name, or a name and labels). */
function sum(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
}

async function residentBytes(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface Reading {
  rss: number;
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
  const syncs = async (): Promise<number> =>
    sum(await metrics(sharder.probePort), 'controller_runtime_reconcile_total{controller="sync"');
  const cpu = async (): Promise<number> => sum(await metrics(sharder.probePort), 'process_cpu_seconds_total');
  const waitFor = async (target: number): Promise<void> => {
    while ((await syncs()) < target) await sleep(500);
  };
  await waitFor((await syncs()) + 1);
  const cpuBefore = await cpu();
  await waitFor((await syncs()) + count);
  const cpuPerSync = ((await cpu()) - cpuBefore) / count;
  await sleep((syncPeriodSeconds * 1000) / 2);
  const samples: Pick<Reading, 'rss' | 'heapUsed' | 'heapTotal'>[] = [];
  for (let i = 0; i < 5; i++) {
    const text = await metrics(sharder.probePort);
    samples.push({
      rss: await residentBytes(sharder.pid ?? 0),
      heapUsed: sum(text, 'nodejs_heap_size_used_bytes'),
      heapTotal: sum(text, 'nodejs_heap_size_total_bytes'),
    });
    await sleep(300);
  }
  const median = (pick: (r: (typeof samples)[number]) => number): number =>
    samples.map(pick).sort((a, b) => a - b)[2] ?? NaN;
  return {
    rss: median((r) => r.rss),
    peak: await residentBytes(sharder.pid ?? 0, 'VmHWM'),
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

interface Checkout {
  program: string;
  /** The node flags its default Deployment sets (NODE_OPTIONS in config/sharder/sharder.yaml). */
  nodeOptions: string[];
  remove: () => Promise<void>;
}

/** A copy of the project at `ref`, sharing this checkout's node_modules; `.` is this checkout. */
async function checkout(ref: string): Promise<Checkout> {
  let dir = root;
  let remove = (): Promise<void> => Promise.resolve();
  if (ref !== '.') {
    const copy = await mkdtemp(join(tmpdir(), 'sharder-memory-'));
    const archive = execFileSync('git', ['-C', root, 'archive', ref], { maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', copy], { input: archive });
    await symlink(await realpath(join(root, 'node_modules')), join(copy, 'node_modules'));
    dir = copy;
    remove = () => rm(copy, { recursive: true, force: true });
  }
  const deployment = await readFile(join(dir, 'config/sharder/sharder.yaml'), 'utf8');
  const nodeOptions = /name: NODE_OPTIONS\s+value: (.*)/.exec(deployment)?.[1]?.split(' ') ?? [];
  return { program: join(dir, 'cmd/sharder/main.ts'), nodeOptions, remove };
}

const mib = (bytes: number): string => `${(bytes / mebibyte).toFixed(1)} MiB`;
const rows: string[] = [];
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
    const { program, nodeOptions, remove } = await checkout(variant.ref);
    const sharder = await startSharder({
      kubeconfigPath: cluster.controlPlane.kubeconfigPath,
      namespace: 'controller-rings-system',
      identity: `sharder-${variant.label}`,
      certificates: await webhookCertificates(),
      program,
      nodeArgs: [...nodeOptions, ...variant.nodeArgs],
      args: ['--leader-elect=false', `--sync-period=${syncPeriodSeconds}s`, '--log-level=info'],
    });
    console.log(`${variant.label}: node ${[...nodeOptions, ...variant.nodeArgs].join(' ')} ${program}`);
    try {
      const idle = await settledAfterSyncs(sharder, syncsPerStep);
      const row = (objects: number, reading: Reading, note: string): void => {
        rows.push(
          `| ${variant.label} | ${objects} | ${mib(reading.rss)} | ${(reading.rss / idle.rss).toFixed(2)} | ` +
            `${mib(reading.heapUsed)} | ${mib(reading.heapTotal)} | ${mib(reading.peak)} | ` +
            `${reading.cpuPerSync.toFixed(2)} s | ${note} |`,
        );
        console.log(rows.at(-1));
      };
      row(0, idle, 'idle');
      let created = 0;
      for (const target of steps) {
        const seconds = await createObjects(rest, created, target);
        created = target;
        try {
          row(target, await settledAfterSyncs(sharder, syncsPerStep), `created in ${seconds.toFixed(0)} s`);
        } catch (error) {
          // E.g. out of heap: the row says so, and the variant ends.
          if (sharder.running) throw error;
          rows.push(
            `| ${variant.label} | ${target} | exited | | | | | | created in ${seconds.toFixed(0)} s |`,
          );
          console.log(rows.at(-1));
          break;
        }
      }
    } finally {
      await sharder.stop();
      await remove();
    }
    // The next variant starts from an empty ring. Its webhook no longer answers: deletions are not admitted.
    await deleteObjects(rest);
  }
  shard.crash();
} finally {
  await cluster.stop();
}
console.log(
  [
    `Node ${process.version}, sync period ${syncPeriodSeconds} s, ` +
      `memory read after ${syncsPerStep} syncs, objects created ` +
      (values['through-webhook'] ? 'unassigned (through the webhook)' : 'assigned (not through the webhook)'),
    '| sharder | objects in the ring | RSS | RSS / idle | heap used | heap total | RSS peak so far | CPU per sync | |',
    '|---|--:|--:|--:|--:|--:|--:|--:|---|',
    ...rows,
  ].join('\n'),
);
