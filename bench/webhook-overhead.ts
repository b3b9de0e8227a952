// What the ring's admission webhook adds to a create, through the real API server (issue 10, deliver 3 and 4).
// On an embedded control plane, with the sharder as a real process and a ring of three (fake) shards, it
// creates ConfigMaps of 1 kB in three namespaces: one in the ring (the API server calls the sharder's webhook),
// one with no webhook, and one whose creates go through a trivial webhook (bench/support/trivial-webhook.ts: a
// minimal node:https server with the sharder's certificate that admits without a patch), registered as the
// ring's is (the configuration the sharder writes, with its failurePolicy, timeout and objectSelector). It
// measures the client's create latency for each at a fixed concurrency, the three interleaved in each of
// several runs, and reports the latency each webhook adds over no webhook, as the ratio ring/trivial in each
// run. The handler's own time comes from the sharder's histogram
// (controller_rings_webhook_request_duration_seconds). Then it calls both webhooks directly with the review
// the API server sent, at the same concurrency, for their CPU per call (/proc) and round trip;
// `--profile` runs the sharder with node --cpu-prof (the profile covers its whole life: use `--phases direct`).
//   npm run bench -- webhook-overhead [--objects 600] [--runs 3] [--concurrency 8] [--phases api,direct] [--profile]
import { readFile, mkdtemp } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { apiVersion, kind, shardLabel, type ControllerRing } from '../api/v1alpha1/index.ts';
import { desiredWebhookConfiguration } from '../controllers/controllerring/webhook-configuration.ts';
import type { RestClient } from '../runtime/rest.ts';
import { ManagedProcess } from '../test/control-plane/process.ts';
import { eventually } from '../test/support/eventually.ts';
import { FakeShard } from '../test/support/fake-shard.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { freePort } from '../test/support/ports.ts';
import { createNamespace, createRing } from '../test/support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../test/support/sharder.ts';
import { webhookPath } from '../webhook/path.ts';
import { barChart, markdownTable, writeFigure } from './support/plot.ts';
import { cpuSeconds } from './support/proc.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '600' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '8' },
    warmup: { type: 'string', default: '100' },
    'object-bytes': { type: 'string', default: '1024' },
    'direct-calls': { type: 'string', default: '20000' },
    phases: { type: 'string', default: 'api,direct' },
    profile: { type: 'boolean', default: false },
  },
  strict: true,
});
const objects = Number(values.objects);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);
const warmup = Number(values.warmup);
const objectBytes = Number(values['object-bytes']);
const directCalls = Number(values['direct-calls']);
const phases = new Set(values.phases.split(','));

const ring = 'overhead';
const sharderNamespace = 'sharder-system';
const selectorKey = 'bench.controller-rings.io/webhook';
const targets = ['none', 'trivial', 'ring'] as const;
type Target = (typeof targets)[number];
const namespaceOf = (target: Target): string => `overhead-${target}`;
const durationMetric = 'controller_rings_webhook_request_duration_seconds';

/** A ConfigMap whose JSON takes `objectBytes` bytes. */
function configMap(namespace: string, name: string): object {
  const object = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name, namespace },
    data: { payload: '' },
  };
  const padding = objectBytes - Buffer.byteLength(JSON.stringify(object));
  object.data.payload = 'x'.repeat(Math.max(0, padding));
  return object;
}

/**
 * Creates `count` ConfigMaps `prefix-<i>` in the namespace of each target, `concurrency` at a time, the
 * targets interleaved create by create: all three see the same machine, whose load drifts. The latency of
 * each create in ms, by target.
 */
async function createAll(rest: RestClient, prefix: string, count: number): Promise<Record<Target, number[]>> {
  const latencies: Record<Target, number[]> = { none: [], trivial: [], ring: [] };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count * targets.length) {
      const i = next++;
      const target = targets[i % targets.length] as Target;
      const namespace = namespaceOf(target);
      const body = configMap(namespace, `${prefix}-${Math.floor(i / targets.length)}`);
      const started = performance.now();
      await rest.request({ method: 'POST', path: `/api/v1/namespaces/${namespace}/configmaps`, body });
      latencies[target].push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return latencies;
}

function percentile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

/** A histogram's cumulative bucket counts by upper bound, as scraped. */
type Buckets = Map<number, number>;

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

function durationBuckets(metrics: string): Buckets {
  const buckets: Buckets = new Map();
  const pattern = new RegExp(
    `^${durationMetric}_bucket\\{(?=.*ring="${ring}")(?=.*le="([^"]+)").*\\} (\\d+)$`,
  );
  for (const line of metrics.split('\n')) {
    const match = pattern.exec(line);
    if (match?.[1] !== undefined) {
      buckets.set(match[1] === '+Inf' ? Infinity : Number(match[1]), Number(match[2]));
    }
  }
  return buckets;
}

/** The q-quantile of the calls between two scrapes, interpolated linearly within its bucket, as Prometheus does. */
function bucketQuantile(before: Buckets, after: Buckets, q: number): number {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((le) => (after.get(le) ?? 0) - (before.get(le) ?? 0));
  const total = counts.at(-1) ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const [k, le] of bounds.entries()) {
    const count = counts[k] ?? 0;
    if (count >= rank) {
      if (le === Infinity) return lower;
      return lower + ((le - lower) * (rank - below)) / (count - below);
    }
    lower = le;
    below = count;
  }
  return NaN;
}

/** POSTs `body` to `url` once, through `agent`; resolves with the status code. */
function post(url: URL, body: Buffer, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, {
      method: 'POST',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': body.length },
    });
    outgoing.once('error', reject);
    outgoing.once('response', (response) => {
      response.resume();
      response.once('end', () => {
        resolve(response.statusCode ?? 0);
      });
    });
    outgoing.end(body);
  });
}

interface DirectResult {
  cpuMicrosPerCall: number;
  /** Of cpuMicrosPerCall, what the process spends without calls in the same time. */
  idleCpuMicrosPerCall: number;
  /** Of cpuMicrosPerCall, the main thread's. */
  mainThreadMicrosPerCall: number;
  roundTrip: { p50: number; p99: number };
  callsPerSecond: number;
}

interface DirectCalls {
  /** The server's CPU (utime + stime), the wall time and each call's round trip, in seconds and ms. */
  cpuSeconds: number;
  /** Of cpuSeconds, the main thread's: the event loop's, without V8's and libuv's helper threads. */
  mainThreadSeconds: number;
  seconds: number;
  latencies: number[];
}

/** `calls` POSTs of `body`, `concurrency` at a time over the agent's keep-alive connections, as the API server makes them. */
async function callDirectly(
  url: URL,
  agent: Agent,
  body: Buffer,
  pid: number,
  calls: number,
): Promise<DirectCalls> {
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next++ < calls) {
      const started = performance.now();
      const status = await post(url, body, agent);
      if (status !== 200) throw new Error(`${url.href} answered ${status}`);
      latencies.push(performance.now() - started);
    }
  };
  const cpuBefore = await cpuSeconds(pid);
  const mainBefore = await cpuSeconds(pid, { mainThread: true });
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  return {
    cpuSeconds: (await cpuSeconds(pid)) - cpuBefore,
    mainThreadSeconds: (await cpuSeconds(pid, { mainThread: true })) - mainBefore,
    seconds,
    latencies,
  };
}

const fixed = (value: number, digits = 2): string => (Number.isNaN(value) ? 'n/a' : value.toFixed(digits));
const range = (samples: readonly number[], digits = 2): string =>
  `${fixed(Math.min(...samples), digits)}..${fixed(Math.max(...samples), digits)}`;
const median = (samples: readonly number[]): number => percentile(samples, 0.5);

const trivialProgram = fileURLToPath(new URL('support/trivial-webhook.ts', import.meta.url));
const cluster = await startTestCluster();
const stops: (() => Promise<unknown>)[] = [];
try {
  const { rest } = cluster;
  await createNamespace(rest, sharderNamespace);
  for (const target of targets) {
    await createNamespace(rest, namespaceOf(target), { [selectorKey]: target });
  }
  for (const name of ['a', 'b', 'c']) {
    const shard = new FakeShard(rest, { ring, name, namespace: 'default', durationSeconds: 600 });
    await shard.join();
    stops.push(() => {
      shard.crash();
      return Promise.resolve();
    });
  }
  const certificates = await webhookCertificates();
  const ca = await readFile(certificates.caFile, 'utf8');
  const profileDir = values.profile ? await mkdtemp(join(tmpdir(), 'webhook-profile-')) : undefined;
  const sharder: SharderProcess = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: sharderNamespace,
    identity: 'sharder-0',
    certificates,
    // The production log level: debug would log every call.
    args: ['--leader-elect=false', '--log-level=info'],
    ...(profileDir === undefined
      ? {}
      : { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, 'sharder')}`] }),
  });
  stops.push(() => sharder.stop());
  const ringSpec: ControllerRing['spec'] = {
    resources: [{ resource: 'configmaps' }],
    namespaceSelector: { matchLabels: { [selectorKey]: 'ring' } },
  };
  await createRing(rest, ring, ringSpec);

  const trivialPort = await freePort();
  const capture = join(certificates.dir, 'review.json');
  const trivial = new ManagedProcess(
    'trivial-webhook',
    process.execPath,
    [
      ...(profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${join(profileDir, 'trivial')}`]),
      trivialProgram,
      `--port=${trivialPort}`,
      `--cert-file=${certificates.certFile}`,
      `--key-file=${certificates.keyFile}`,
      `--capture=${capture}`,
    ],
    join(certificates.dir, 'trivial-webhook.log'),
  );
  stops.push(() => trivial.stop());
  const trivialUrl = `https://127.0.0.1:${trivialPort}`;
  const agent = new Agent({ keepAlive: true, ca });
  const trivialCalls = async (): Promise<number> =>
    Number((await getText(`${trivialUrl}/calls`, agent)).trim());
  await trivial.waitUntil(() => trivialCalls().then(() => true), 10_000);
  // Registered as the sharder registers a ring's webhook: the configuration it writes for a ring named
  // "trivial" whose namespace selector picks the trivial namespace.
  const trivialRing: ControllerRing = {
    apiVersion,
    kind,
    metadata: { name: 'trivial' },
    spec: { resources: ringSpec.resources, namespaceSelector: { matchLabels: { [selectorKey]: 'trivial' } } },
  };
  const { metadata, ...configuration } = desiredWebhookConfiguration(trivialRing, {
    clientConfig: () => ({ url: `${trivialUrl}/trivial`, caBundle: Buffer.from(ca).toString('base64') }),
    excludedNamespaces: [sharderNamespace, 'kube-system'],
  });
  await rest.request<IMutatingWebhookConfiguration>({
    method: 'POST',
    path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
    body: { ...configuration, metadata: { name: metadata?.name } },
  });

  // Both webhooks are called before anything is measured.
  let probe = 0;
  await eventually(
    async () => {
      const created = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
        method: 'POST',
        path: `/api/v1/namespaces/${namespaceOf('ring')}/configmaps`,
        body: configMap(namespaceOf('ring'), `probe-${probe++}`),
      });
      if (created.metadata.labels?.[shardLabel(ring)] === undefined)
        throw new Error('not assigned at admission');
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  await eventually(
    async () => {
      await rest.request({
        method: 'POST',
        path: `/api/v1/namespaces/${namespaceOf('trivial')}/configmaps`,
        body: configMap(namespaceOf('trivial'), `probe-${probe++}`),
      });
      if ((await trivialCalls()) === 0) throw new Error('the trivial webhook was not called');
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );

  const sections: string[] = [];
  if (phases.has('api')) {
    await createAll(rest, 'warmup', warmup);
    interface Run {
      latency: Record<Target, { p50: number; p90: number; p99: number }>;
      handlerP50: number;
      handlerP90: number;
      /** The trivial webhook's own time for its calls, measured as the sharder's histogram measures its. */
      trivialHandlerP50: number;
      trivialHandlerP90: number;
      /** Calls each webhook answered, of `objects` creates (the API server's may time out). */
      answered: { ring: number; trivial: number };
    }
    const measured: Run[] = [];
    for (let run = 0; run < runs; run++) {
      const before = durationBuckets(await scrape(sharder.probePort));
      const callsBefore = await trivialCalls();
      await getText(`${trivialUrl}/durations`, agent);
      const samples = await createAll(rest, `run${run}`, objects);
      const after = durationBuckets(await scrape(sharder.probePort));
      const ringCalls = (after.get(Infinity) ?? 0) - (before.get(Infinity) ?? 0);
      const trivialCalled = (await trivialCalls()) - callsBefore;
      // A call the API server gave up on (failurePolicy Ignore) admits its object anyway: a few are the
      // machine's load; most missing means a webhook is not registered.
      if (ringCalls < objects * 0.9 || trivialCalled < objects * 0.9) {
        throw new Error(
          `of ${objects} creates each, the sharder answered ${ringCalls} calls and the trivial webhook ${trivialCalled}`,
        );
      }
      const latency = {} as Run['latency'];
      for (const target of targets) {
        latency[target] = {
          p50: percentile(samples[target], 0.5),
          p90: percentile(samples[target], 0.9),
          p99: percentile(samples[target], 0.99),
        };
      }
      const handlerP50 = bucketQuantile(before, after, 0.5) * 1000;
      const handlerP90 = bucketQuantile(before, after, 0.9) * 1000;
      const trivialDurations = JSON.parse(await getText(`${trivialUrl}/durations`, agent)) as number[];
      const trivialHandlerP50 = percentile(trivialDurations, 0.5);
      const trivialHandlerP90 = percentile(trivialDurations, 0.9);
      measured.push({
        latency,
        handlerP50,
        handlerP90,
        trivialHandlerP50,
        trivialHandlerP90,
        answered: { ring: ringCalls, trivial: trivialCalled },
      });
      console.error(`run ${run + 1}/${runs}: ${JSON.stringify(measured.at(-1))}`);
    }
    const added = (r: Run, target: 'ring' | 'trivial', q: 'p50' | 'p90'): number =>
      r.latency[target][q] - r.latency.none[q];
    const ratio = (r: Run, q: 'p50' | 'p90'): number => added(r, 'ring', q) / added(r, 'trivial', q);
    const rows = measured.map((r, k) => [
      k + 1,
      ...targets.map(
        (t) => `${fixed(r.latency[t].p50)} / ${fixed(r.latency[t].p90)} / ${fixed(r.latency[t].p99)}`,
      ),
      fixed(added(r, 'trivial', 'p50')),
      fixed(added(r, 'ring', 'p50')),
      fixed(ratio(r, 'p50')),
      fixed(ratio(r, 'p90')),
      `${fixed(r.handlerP50, 3)} / ${fixed(r.handlerP90, 3)}`,
      `${fixed(r.trivialHandlerP50, 3)} / ${fixed(r.trivialHandlerP90, 3)}`,
      `${r.answered.ring} / ${r.answered.trivial}`,
    ]);
    const over = (value: (r: Run) => number): { value: number; low: number; high: number } => {
      const values = measured.map(value);
      return { value: median(values), low: Math.min(...values), high: Math.max(...values) };
    };
    const figure = await writeFigure(
      'webhook-overhead',
      barChart({
        title: `Latency a webhook adds to a create (no webhook: p50 ${fixed(over((r) => r.latency.none.p50).value)} ms)`,
        y: { label: 'added over no webhook (ms), median of runs', min: 0 },
        bars: [
          { label: 'none', value: 0 },
          { label: 'trivial p50', ...over((r) => added(r, 'trivial', 'p50')) },
          { label: 'ring p50', ...over((r) => added(r, 'ring', 'p50')) },
          { label: 'trivial p90', ...over((r) => added(r, 'trivial', 'p90')) },
          { label: 'ring p90', ...over((r) => added(r, 'ring', 'p90')) },
        ],
      }),
    );
    sections.push(
      [
        `Creates of ${objects} ConfigMaps of ${objectBytes} B per namespace and run, the three interleaved, ${concurrency} at a time, ${runs} runs; latency in ms.`,
        '',
        markdownTable(
          [
            'run',
            'no webhook p50 / p90 / p99',
            'trivial webhook p50 / p90 / p99',
            'ring webhook p50 / p90 / p99',
            'added by trivial, p50',
            'added by ring, p50',
            'ring/trivial added, p50',
            'ring/trivial added, p90',
            'ring handler p50 / p90 (histogram)',
            'trivial handler p50 / p90',
            'calls answered, ring / trivial',
          ],
          rows,
        ),
        '',
        `Over the runs (min..max): added by the trivial webhook p50 ${range(measured.map((r) => added(r, 'trivial', 'p50')))} ms, ` +
          `by the ring's ${range(measured.map((r) => added(r, 'ring', 'p50')))} ms; ratio ring/trivial p50 ${range(measured.map((r) => ratio(r, 'p50')))}, ` +
          `p90 ${range(measured.map((r) => ratio(r, 'p90')))}; the handler's own time p50 ${range(
            measured.map((r) => r.handlerP50),
            3,
          )} ms (the trivial webhook's ${range(
            measured.map((r) => r.trivialHandlerP50),
            3,
          )} ms).`,
        '',
        `![Latency a webhook adds to a create](${figure})`,
      ].join('\n'),
    );
  }
  if (phases.has('direct')) {
    const review = (await readFile(capture, 'utf8')).replaceAll(namespaceOf('trivial'), namespaceOf('ring'));
    const body = Buffer.from(review);
    const servers = {
      trivial: { url: new URL(`${trivialUrl}/trivial`), pid: trivial.pid ?? 0 },
      ring: {
        url: new URL(`https://127.0.0.1:${sharder.webhookPort}${webhookPath(ring)}`),
        pid: sharder.pid ?? 0,
      },
    };
    const agents = {
      trivial: new Agent({ keepAlive: true, maxSockets: concurrency, ca }),
      ring: new Agent({ keepAlive: true, maxSockets: concurrency, ca }),
    };
    const totals = { trivial: [] as DirectCalls[], ring: [] as DirectCalls[] };
    // Warm: connections open, code optimized. Then the two in turns, each first in every other round, so that
    // both see the same machine.
    for (const t of ['trivial', 'ring'] as const) {
      await callDirectly(servers[t].url, agents[t], body, servers[t].pid, 2000);
    }
    // What each process spends without calls (timers, watches, metrics), to tell it from the calls' cost.
    const idleSeconds = 5;
    const idleBefore = {
      trivial: await cpuSeconds(servers.trivial.pid),
      ring: await cpuSeconds(servers.ring.pid),
    };
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const idle = {
      trivial: ((await cpuSeconds(servers.trivial.pid)) - idleBefore.trivial) / idleSeconds,
      ring: ((await cpuSeconds(servers.ring.pid)) - idleBefore.ring) / idleSeconds,
    };
    const before = durationBuckets(await scrape(sharder.probePort));
    const rounds = 4;
    for (let round = 0; round < rounds; round++) {
      for (const t of round % 2 === 0 ? (['trivial', 'ring'] as const) : (['ring', 'trivial'] as const)) {
        totals[t].push(
          await callDirectly(servers[t].url, agents[t], body, servers[t].pid, directCalls / rounds),
        );
      }
    }
    const after = durationBuckets(await scrape(sharder.probePort));
    for (const agent of Object.values(agents)) agent.destroy();
    const summed = (t: 'trivial' | 'ring'): DirectResult => {
      const cpu = totals[t].reduce((sum, c) => sum + c.cpuSeconds, 0);
      const seconds = totals[t].reduce((sum, c) => sum + c.seconds, 0);
      const latencies = totals[t].flatMap((c) => c.latencies);
      return {
        cpuMicrosPerCall: (cpu / latencies.length) * 1e6,
        idleCpuMicrosPerCall: ((idle[t] * seconds) / latencies.length) * 1e6,
        mainThreadMicrosPerCall:
          (totals[t].reduce((sum, c) => sum + c.mainThreadSeconds, 0) / latencies.length) * 1e6,
        roundTrip: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) },
        callsPerSecond: latencies.length / seconds,
      };
    };
    const direct = { trivial: summed('trivial'), ring: summed('ring') };
    sections.push(
      [
        `Direct calls with the review the API server sent (${body.length} B), ${directCalls} per webhook in 4 alternating rounds, ${concurrency} at a time over keep-alive connections.`,
        '',
        markdownTable(
          [
            'webhook',
            'CPU per call (µs)',
            'of which main thread (µs)',
            'of which idle CPU (µs)',
            'round trip p50 / p99 (ms)',
            'calls/s',
          ],
          (['trivial', 'ring'] as const).map((t) => [
            t,
            Math.round(direct[t].cpuMicrosPerCall),
            Math.round(direct[t].mainThreadMicrosPerCall),
            Math.round(direct[t].idleCpuMicrosPerCall),
            `${fixed(direct[t].roundTrip.p50, 3)} / ${fixed(direct[t].roundTrip.p99, 3)}`,
            Math.round(direct[t].callsPerSecond),
          ]),
        ),
        '',
        `The handler's own time under this load (histogram), p50 ${fixed(bucketQuantile(before, after, 0.5) * 1000, 3)} ms, p90 ${fixed(bucketQuantile(before, after, 0.9) * 1000, 3)} ms.`,
      ].join('\n'),
    );
  }
  console.log(sections.join('\n\n'));
  if (profileDir !== undefined)
    console.error(`CPU profiles of the sharder and the trivial webhook: ${profileDir}`);
  agent.destroy();
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await cluster.stop();
}

function getText(url: string, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.once('end', () => {
        resolve(text);
      });
    })
      .once('error', reject)
      .end();
  });
}
