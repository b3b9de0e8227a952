// The cost of a rebalance: a ring of ConfigMaps on 3 shards, a 4th joins, and the sharder drains the objects
// the new shard wins (design.md, invariant 4). Runs the sharder as a real process (leader election on, its
// defaults, the node flags of its Deployment) on an embedded control plane, the shards as FakeShards (their
// Leases only: nobody acknowledges a drain, so the webhook is not called and what is measured is the
// sharder's sync). Per run it reads
//   - the sharder's CPU (utime + stime of /proc/<pid>/stat) from just before the join until the sync that
//     drained has finished;
//   - the time from the join (the new shard's Lease created ready) to the last drain label the API server
//     shows (a watch of the ring's objects selecting the drain label).
// Each run starts a fresh sharder, settled after its first sync; between runs the drain labels are removed and
// the 4th Lease deleted. Every variant runs every concurrency `--runs` times, interleaved.
//   npm run bench -- rebalance [--objects 10000] [--concurrency 10,25,50,100,200] [--runs 3]
//     [--variant now=.] [--variant main=main] [--cpu-prof <dir>] [--figure rebalance]
// It prints a markdown table and writes the figures docs/performance/<figure>-cpu.svg and -time.svg.
// A variant is label=ref[,node flag or NAME=value...] (a git ref, . is this checkout): its sharder runs with the
// NODE_OPTIONS and env its checkout's Deployment sets (config/sharder/sharder.yaml), then its own, which override them.
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { drainLabel, drainValue, shardLabel } from '../api/v1alpha1/index.ts';
import { forEachConcurrently } from '../runtime/concurrency.ts';
import type { ListPage } from '../runtime/pager.ts';
import { patchTypes, type RestClient } from '../runtime/rest.ts';
import { HashRing } from '../sharding/ring.ts';
import { FakeShard } from '../test/support/fake-shard.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { createNamespace, createRing } from '../test/support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../test/support/sharder.ts';
import { checkout, type Checkout } from './support/checkout.ts';
import { parseVariant, type Variant } from './support/variant.ts';
import { lineChart, markdownTable, writeFigure } from './support/plot.ts';
import { cpuSeconds } from './support/proc.ts';
import { metrics, sum } from './support/scrape.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '10000' },
    concurrency: { type: 'string', default: '10,25,50,100,200' },
    runs: { type: 'string', default: '3' },
    variant: { type: 'string', multiple: true, default: ['now=.'] },
    // Writes a CPU profile of each run's sharder (node --cpu-prof) into this directory.
    'cpu-prof': { type: 'string' },
    // The figures' names: docs/performance/<figure>-cpu.svg and -time.svg; '' writes none.
    figure: { type: 'string', default: 'rebalance' },
  },
  strict: true,
});
const objectCount = Number(values.objects);
const concurrencies = values.concurrency.split(',').map(Number);
const runs = Number(values.runs);
const ring = 'bench';
const namespace = 'objects';
const objectsPath = `/api/v1/namespaces/${namespace}/configmaps`;
const shardNames = ['shard-0', 'shard-1', 'shard-2'];
const joining = 'shard-3';
const leaseDurationSeconds = 15;

const variants: Variant[] = values.variant.map(parseVariant);

const objectName = (i: number): string => `object-${i}`;
const objectKey = (name: string): string => `/ConfigMap/${namespace}/${name}`;

interface SyncProgress {
  /** Reconciles the sync has finished. */
  done: number;
  /** Whether a reconcile is queued or running. */
  busy: boolean;
}

async function syncProgress(sharder: SharderProcess): Promise<SyncProgress> {
  const text = await metrics(sharder.probePort);
  return {
    done: sum(text, 'controller_runtime_reconcile_total{controller="sync"'),
    busy:
      sum(text, 'workqueue_depth{name="sync"') + sum(text, 'workqueue_unfinished_work_seconds{name="sync"') >
      0,
  };
}

/** Waits until the sync has finished more than `after` reconciles and has nothing queued or running. */
async function syncSettled(sharder: SharderProcess, after: number): Promise<void> {
  // Every 250 ms: each reading costs the sharder a metrics collection, which counts towards the CPU measured.
  for (;;) {
    const { done, busy } = await syncProgress(sharder);
    if (done > after && !busy) return;
    await sleep(250);
  }
}

async function createObjects(rest: RestClient, assigned: HashRing): Promise<void> {
  const names = Array.from({ length: objectCount }, (_, i) => objectName(i));
  await forEachConcurrently(names, 16, async (name) => {
    // Assigned as the webhook would have: the sharder's first sync finds nothing to do.
    const labels = { [shardLabel(ring)]: assigned.shardFor(objectKey(name)) ?? '' };
    await rest.request({
      method: 'POST',
      path: objectsPath,
      body: { metadata: { name, labels }, data: { v: name } },
    });
  });
}

/** Watches the ring's objects for drain labels; `drained` maps each drained object to when it was seen. */
function watchDrains(
  rest: RestClient,
  resourceVersion: string,
): { drained: Map<string, number>; stop(): void } {
  const drained = new Map<string, number>();
  const abort = new AbortController();
  void rest
    .watch<{ metadata: { name: string } }>(
      objectsPath,
      { labelSelector: `${drainLabel(ring)}=${drainValue}`, resourceVersion, timeoutSeconds: 600 },
      (event) => {
        if (event.type === 'ADDED' && !drained.has(event.object.metadata.name))
          drained.set(event.object.metadata.name, performance.now());
      },
      abort.signal,
      { accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1' },
    )
    .then(
      () => {
        // The run then waits for drains it cannot see: say so, rather than blame the sharder.
        if (!abort.signal.aborted) console.error('drain watch ended before the run stopped it');
      },
      (error: unknown) => {
        if (!abort.signal.aborted) console.error('drain watch failed:', error);
      },
    );
  return {
    drained,
    stop: () => {
      abort.abort();
    },
  };
}

interface Run {
  variant: string;
  concurrency: number;
  cpu: number;
  toLastDrain: number;
  notes: string;
  drains: number;
}

async function run(
  rest: RestClient,
  kubeconfigPath: string,
  variant: Variant & Checkout,
  concurrency: number,
  expected: number,
  index: number,
): Promise<Run> {
  const identity = `sharder-${variant.label}-${concurrency}-${index}`;
  const profile = values['cpu-prof'];
  if (profile !== undefined) await mkdir(profile, { recursive: true });
  const sharder = await startSharder({
    kubeconfigPath,
    namespace: 'controller-rings-system',
    identity,
    certificates: await webhookCertificates(),
    program: join(variant.dir, 'cmd/sharder/main.ts'),
    // The node flags of its default Deployment (heap limits), then the profiler's.
    nodeArgs: [
      ...variant.nodeOptions,
      ...variant.nodeArgs,
      ...(profile === undefined
        ? []
        : ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${identity}.cpuprofile`]),
    ],
    env: { ...variant.deploymentEnv, ...variant.env },
    args: [`--sync-concurrency=${concurrency}`, '--log-level=info'],
  });
  const newcomer = new FakeShard(rest, {
    ring,
    name: joining,
    namespace,
    durationSeconds: leaseDurationSeconds,
  });
  try {
    // Settled: the first sync (with 3 shards, nothing to do) is over, and the shard Leases' states written.
    await syncSettled(sharder, 0);
    await sleep(2000);
    const list = await rest.request<ListPage<unknown>>({ path: objectsPath, query: { limit: 1 } });
    const watch = watchDrains(rest, list.metadata?.resourceVersion ?? '');
    try {
      const syncs = (await syncProgress(sharder)).done;
      const cpuBefore = await cpuSeconds(sharder.pid ?? 0);
      const joined = performance.now();
      await newcomer.join();
      while (watch.drained.size < expected) {
        if (performance.now() - joined > 120_000)
          throw new Error(`${identity}: ${watch.drained.size} of ${expected} drains after 120 s`);
        await sleep(100);
      }
      await syncSettled(sharder, syncs);
      const cpu = (await cpuSeconds(sharder.pid ?? 0)) - cpuBefore;
      const times = [...watch.drained.values()];
      const toLastDrain = (Math.max(...times) - joined) / 1000;
      const toFirstDrain = (Math.min(...times) - joined) / 1000;
      // Where the time went, for reading outliers: the longest pause between drains, the syncs it took, and
      // what else the machine was doing (its load average).
      const sorted = times.sort((a, b) => a - b);
      const longestGap = Math.max(...sorted.slice(1).map((time, i) => time - (sorted[i] ?? time))) / 1000;
      const notes =
        `drains ${toFirstDrain.toFixed(2)}..${toLastDrain.toFixed(2)} s after the join, ` +
        `longest pause ${longestGap.toFixed(2)} s, ${(await syncProgress(sharder)).done - syncs} syncs, ` +
        `load ${loadavg()[0]?.toFixed(1) ?? ''}`;
      return { variant: variant.label, concurrency, cpu, toLastDrain, drains: watch.drained.size, notes };
    } finally {
      watch.stop();
    }
  } finally {
    newcomer.crash();
    await sharder.stop();
    await reset(rest);
  }
}

/** Back to 3 shards: the 4th Lease deleted, the drain labels removed. */
async function reset(rest: RestClient): Promise<void> {
  await rest.request({
    method: 'DELETE',
    path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${joining}`,
  });
  const drained = await rest.request<ListPage<{ metadata: { name: string } }>>({
    path: objectsPath,
    query: { labelSelector: drainLabel(ring) },
  });
  await forEachConcurrently(drained.items ?? [], 32, async ({ metadata }) => {
    await rest.request({
      method: 'PATCH',
      path: `${objectsPath}/${metadata.name}`,
      contentType: patchTypes.merge,
      body: { metadata: { labels: { [drainLabel(ring)]: null } } },
    });
  });
}

const range = (numbers: number[], digits: number): string => {
  const min = Math.min(...numbers).toFixed(digits);
  const max = Math.max(...numbers).toFixed(digits);
  return min === max ? min : `${min}–${max}`;
};

const before = new HashRing(shardNames);
const after = new HashRing([...shardNames, joining]);
const expected = Array.from({ length: objectCount }, (_, i) => objectKey(objectName(i))).filter(
  (key) => after.shardFor(key) === joining,
).length;
const results: Run[] = [];
const cluster = await startTestCluster();
const checkouts = await Promise.all(variants.map(async (v) => ({ ...v, ...(await checkout(v.ref)) })));
const shards = shardNames.map(
  (name) => new FakeShard(cluster.rest, { ring, name, namespace, durationSeconds: leaseDurationSeconds }),
);
try {
  await createNamespace(cluster.rest, 'controller-rings-system');
  await createNamespace(cluster.rest, namespace);
  for (const shard of shards) await shard.join();
  await createRing(cluster.rest, ring, {
    resources: [{ resource: 'configmaps' }],
    shardLeaseNamespaces: [namespace],
  });
  await createObjects(cluster.rest, before);
  console.error(`${objectCount} objects on ${shardNames.length} shards; ${expected} move to ${joining}`);
  for (let index = 0; index < runs; index++) {
    for (const concurrency of concurrencies) {
      for (const variant of checkouts) {
        const result = await run(
          cluster.rest,
          cluster.controlPlane.kubeconfigPath,
          variant,
          concurrency,
          expected,
          index,
        );
        console.error(
          `${result.variant} concurrency ${concurrency}: CPU ${result.cpu.toFixed(2)} s, ${result.drains} ${result.notes}`,
        );
        results.push(result);
      }
    }
  }
} finally {
  for (const shard of shards) shard.crash();
  await Promise.all(checkouts.map((c) => c.remove()));
  await cluster.stop();
}

const median = (numbers: number[]): number => {
  const sorted = [...numbers].sort((a, b) => a - b);
  return sorted[Math.floor((sorted.length - 1) / 2)] ?? NaN;
};
const of = (variant: Variant, concurrency: number): Run[] =>
  results.filter((r) => r.variant === variant.label && r.concurrency === concurrency);
const rows = variants.flatMap((variant) =>
  concurrencies.map((concurrency) => {
    const mine = of(variant, concurrency);
    return [
      variant.label,
      concurrency,
      `${range(
        mine.map((r) => r.cpu),
        2,
      )} s`,
      `${range(
        mine.map((r) => r.toLastDrain),
        1,
      )} s`,
    ];
  }),
);
// The reference's figures (issue 10: its sharder at its default of 100, 3 runs, on this kind of machine) as
// the low and high ends of a band across the chart.
const reference = { concurrency: 100, cpu: [0.8, 1.2], toLastDrain: [4.2, 5.5] } as const;
const chart = (title: string, label: string, pick: (run: Run) => number, band: readonly number[]): string =>
  lineChart({
    title,
    x: { label: '--sync-concurrency' },
    y: { label, min: 0 },
    series: [
      ...variants.map((variant) => ({
        name: `${variant.label} (median of ${runs})`,
        points: concurrencies.map((c) => [c, median(of(variant, c).map(pick))] as const),
      })),
      // The reference was measured with 10,000 objects only.
      ...(objectCount === 10_000 ? band : []).map((value, i) => ({
        name: `reference at ${reference.concurrency}, ${i === 0 ? 'low' : 'high'}`,
        points: [concurrencies[0] ?? 1, concurrencies.at(-1) ?? 1].map((c) => [c, value] as const),
      })),
    ],
  });
const links: string[] = [];
if (values.figure !== '') {
  const title = `a 4th shard joins ${objectCount} objects`;
  links.push(
    await writeFigure(
      `${values.figure}-cpu`,
      chart(`Sharder CPU when ${title}`, 'CPU seconds', (r) => r.cpu, reference.cpu),
    ),
    await writeFigure(
      `${values.figure}-time`,
      chart(`Join to last drain when ${title}`, 'seconds', (r) => r.toLastDrain, reference.toLastDrain),
    ),
  );
}
console.log(
  [
    `${objectCount} ConfigMaps on ${shardNames.length} shards, a 4th joins: ${expected} drains; ` +
      `min–max of ${runs} runs, Node ${process.version}, load average ${loadavg()
        .map((load) => load.toFixed(1))
        .join(' ')} at the end`,
    '',
    markdownTable(
      ['sharder', '--sync-concurrency', 'sharder CPU for the rebalance', 'join to last drain'],
      [
        [
          'reference (issue 10)',
          reference.concurrency,
          `${reference.cpu.join('–')} s`,
          `${reference.toLastDrain.join('–')} s`,
        ],
        ...rows,
      ],
    ),
    '',
    ...links.map((link) => `![${link}](${link})`),
  ].join('\n'),
);
