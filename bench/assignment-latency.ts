// How long a new object of a ring goes without a shard, with the admission webhook (spec.assignment: Webhook)
// and with the sharder's watch of unassigned objects (spec.assignment: Watch), through the real API server.
// On an embedded control plane, with the sharder as a real process and a ring of three (fake) shards, it
// creates ConfigMaps in the ring's namespace, `concurrency` at a time, and measures per object the time from
// sending the create to the moment a watch of the bench (label selector: the shard label present) sees the
// object labelled: with the webhook, the label comes with the create; with the watch, a patch of the sharder
// adds it after the create. Both modes are measured the same way in each run, one after the other (the order
// alternating from run to run, as the machine's load drifts), and compared as the ratio watch/webhook of the
// same run. The ring switches mode between phases; a phase starts once the switch is in effect (the API server
// calls the webhook, or no longer does and the sharder watches).
//   npm run bench -- assignment-latency [--objects 300] [--runs 3] [--concurrency 4]
import { parseArgs } from 'node:util';
import { ringsPath, shardLabel } from '../api/v1alpha1/index.ts';
import { Informer } from '../runtime/informer.ts';
import { createLogger } from '../runtime/logger.ts';
import type { PartialObjectMetadata } from '../runtime/pager.ts';
import { isNotFound, patchTypes, type RestClient } from '../runtime/rest.ts';
import { eventually } from '../test/support/eventually.ts';
import { FakeShard } from '../test/support/fake-shard.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { createNamespace, createRing } from '../test/support/rings.ts';
import { startSharder, webhookCertificates } from '../test/support/sharder.ts';
import { markdownTable } from './support/plot.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '300' },
    runs: { type: 'string', default: '3' },
    concurrency: { type: 'string', default: '4' },
  },
  strict: true,
});
const objects = Number(values.objects);
const runs = Number(values.runs);
const concurrency = Number(values.concurrency);

const ring = 'latency';
const namespace = 'latency-objects';
const sharderNamespace = 'sharder-system';
const label = shardLabel(ring);
const modes = ['Webhook', 'Watch'] as const;
type Mode = (typeof modes)[number];
const webhookConfigurationPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-${ring}`;

function percentile(samples: readonly number[], q: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

/** Whether a dry-run create comes back labelled: the API server calls the ring's webhook. */
async function webhookCalled(rest: RestClient): Promise<boolean> {
  const probe = await rest.request<PartialObjectMetadata>({
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    query: { dryRun: 'All' },
    body: { metadata: { name: 'probe' } },
  });
  return probe.metadata.labels?.[label] !== undefined;
}

async function webhookConfigurationExists(rest: RestClient): Promise<boolean> {
  try {
    await rest.request({ path: webhookConfigurationPath });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

/** Switches the ring's mode and waits until the switch is in effect. */
async function switchTo(rest: RestClient, mode: Mode, probePort: number): Promise<void> {
  await rest.request({
    method: 'PATCH',
    path: `${ringsPath}/${ring}`,
    contentType: patchTypes.merge,
    body: { spec: { assignment: mode } },
  });
  await eventually(
    async () => {
      const watching = (await (await fetch(`http://127.0.0.1:${probePort}/metrics`)).text()).includes(
        `controller_rings_assignment_watch_objects{ring="${ring}"}`,
      );
      const ok =
        mode === 'Webhook'
          ? (await webhookCalled(rest)) && !watching
          : !(await webhookConfigurationExists(rest)) && !(await webhookCalled(rest)) && watching;
      if (!ok) throw new Error(`the switch to ${mode} is not in effect yet`);
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

interface Phase {
  /** Create sent → the bench's watch sees the shard label, ms. */
  assigned: number[];
  /** Create sent → its answer, ms. */
  created: number[];
  /** Create answered → the bench's watch sees the shard label, ms (negative: seen before the answer). */
  unlabelled: number[];
  /** Objects whose create answer already carried the label. */
  labelledAtCreate: number;
}

/** Creates `objects` ConfigMaps `prefix-<i>`, `concurrency` at a time, and times each one's assignment. */
async function phase(
  rest: RestClient,
  labelled: Informer<PartialObjectMetadata>,
  prefix: string,
): Promise<Phase> {
  const sent = new Map<string, number>();
  const seen = new Map<string, number>();
  const waiting = new Map<string, () => void>();
  labelled.onEvent(({ type, object }) => {
    const name = object.metadata.name ?? '';
    if (type === 'deleted' || !sent.has(name) || seen.has(name)) return;
    seen.set(name, performance.now());
    waiting.get(name)?.();
  });
  const result: Phase = { assigned: [], created: [], unlabelled: [], labelledAtCreate: 0 };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < objects) {
      const name = `${prefix}-${next++}`;
      const arrived = new Promise<void>((resolve) => waiting.set(name, resolve));
      const started = performance.now();
      sent.set(name, started);
      const created = await rest.request<PartialObjectMetadata>({
        method: 'POST',
        path: `/api/v1/namespaces/${namespace}/configmaps`,
        body: { metadata: { name }, data: { payload: 'x'.repeat(512) } },
      });
      const answered = performance.now();
      result.created.push(answered - started);
      if (created.metadata.labels?.[label] !== undefined) result.labelledAtCreate++;
      if (!seen.has(name)) await arrived;
      result.assigned.push((seen.get(name) ?? NaN) - started);
      result.unlabelled.push((seen.get(name) ?? NaN) - answered);
      waiting.delete(name);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return result;
}

const logger = createLogger({ name: 'bench', level: 'warn' });
const cluster = await startTestCluster();
const stops: (() => Promise<unknown>)[] = [];
try {
  const { rest } = cluster;
  await createNamespace(rest, sharderNamespace);
  await createNamespace(rest, namespace);
  for (const name of ['a', 'b', 'c']) {
    const shard = new FakeShard(rest, { ring, name, namespace: 'default', durationSeconds: 600 });
    await shard.join();
    stops.push(() => {
      shard.crash();
      return Promise.resolve();
    });
  }
  const sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: sharderNamespace,
    identity: 'sharder-0',
    certificates: await webhookCertificates(),
    // The production log level: debug would log every object; the sync stays out of the way.
    args: ['--leader-elect=false', '--log-level=info', '--sync-period=1h'],
  });
  stops.push(() => sharder.stop());
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps' }],
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
  });
  // The bench's own view of assignments: the objects of the namespace that carry the shard label.
  const labelled = new Informer<PartialObjectMetadata>(rest, {
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    labelSelector: label,
    metadataOnly: true,
    logger,
  });
  labelled.start();
  stops.push(() => labelled.stop());
  await labelled.waitForSync();

  const results: Record<Mode, Phase>[] = [];
  for (let run = 0; run < runs; run++) {
    const order = run % 2 === 0 ? modes : [...modes].reverse();
    const measured: Partial<Record<Mode, Phase>> = {};
    for (const mode of order) {
      await switchTo(rest, mode, sharder.probePort);
      measured[mode] = await phase(rest, labelled, `run-${run}-${mode.toLowerCase()}`);
      process.stderr.write(`run ${run} ${mode}: done\n`);
    }
    results.push(measured as Record<Mode, Phase>);
  }

  const fixed = (value: number): string => value.toFixed(1);
  const rows = results.map((result, run) => {
    const p = (mode: Mode, q: number): number => percentile(result[mode].assigned, q);
    return [
      run + 1,
      `${fixed(percentile(result.Webhook.created, 0.5))} / ${fixed(percentile(result.Watch.created, 0.5))}`,
      `${fixed(p('Webhook', 0.5))} / ${fixed(p('Webhook', 0.9))}`,
      `${fixed(p('Watch', 0.5))} / ${fixed(p('Watch', 0.9))}`,
      (p('Watch', 0.5) / p('Webhook', 0.5)).toFixed(2),
      (p('Watch', 0.9) / p('Webhook', 0.9)).toFixed(2),
      `${fixed(percentile(result.Watch.unlabelled, 0.5))} / ${fixed(percentile(result.Watch.unlabelled, 0.9))}`,
      `${result.Webhook.labelledAtCreate} / ${result.Watch.labelledAtCreate}`,
    ];
  });
  process.stdout.write(
    [
      `${objects} ConfigMaps per mode and run, ${concurrency} creates at a time, ${runs} runs; ms from sending the create to a watch seeing the shard label.`,
      '',
      markdownTable(
        [
          'run',
          'create answered p50, webhook / watch',
          'assigned p50 / p90, webhook',
          'assigned p50 / p90, watch',
          'watch/webhook p50',
          'watch/webhook p90',
          'watch: create answered → label seen, p50 / p90',
          'labelled in the create answer, webhook / watch',
        ],
        rows,
      ),
      '',
    ].join('\n'),
  );
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
  await cluster.stop();
}
