// The quick-start demo (make demo): an embedded control plane, the sharder (2 replicas) and 3 shards of the
// example controller as real processes; a few hundred ConfigMaps; a live table of assignments while one shard
// is killed and another joins; a summary at the end. Everything it started stops with it, Ctrl-C included.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { drainLabel, shardLabel } from '../../api/v1alpha1/index.ts';
import { errorMessage } from '../../runtime/error-message.ts';
import { listMetadata } from '../../runtime/pager.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { startExampleShard, type ExampleShard } from '../../test/support/example-shard.ts';
import { startTestCluster, type TestCluster } from '../../test/support/own-control-plane.ts';
import { createNamespace, createRing } from '../../test/support/rings.ts';
import {
  startSharder,
  quickLeaderElection,
  webhookCertificates,
  type SharderProcess,
} from '../../test/support/sharder.ts';
import { countAssignments, renderTable, type ShardRow, type Snapshot } from './view.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '300' },
    'lease-duration': { type: 'string', default: '5' },
  },
  strict: true,
});
const objectCount = Number(values.objects);
const leaseDurationSeconds = Number(values['lease-duration']);
if (
  !Number.isInteger(objectCount) ||
  objectCount < 1 ||
  !Number.isInteger(leaseDurationSeconds) ||
  leaseDurationSeconds < 1
) {
  console.error('usage: demo [--objects 300] [--lease-duration 5]');
  process.exit(2);
}

const ring = 'configmap-digest';
const namespace = 'demo';
/** Where the shards keep their Leases: the one namespace the ring trusts for them. */
const shardNamespace = 'shards';
const interactive = process.stdout.isTTY;
const events: string[] = [];
const shardRows = new Map<string, ShardRow>();
const shardProcesses = new Map<string, ExampleShard>();
const sharders: SharderProcess[] = [];
let cluster: TestCluster | undefined;
let logDir = '';

function say(event: string): void {
  events.push(event);
  if (!interactive) console.log(`• ${event}`);
}

async function snapshot(rest: RestClient): Promise<Snapshot> {
  const labels = [];
  for await (const object of listMetadata(rest, `/api/v1/namespaces/${namespace}/configmaps`)) {
    labels.push(object.metadata.labels);
  }
  return countAssignments(labels, shardLabel(ring), drainLabel(ring));
}

function draw(current: Snapshot): void {
  const table = renderTable(current, [...shardRows.values()], interactive ? events : []);
  // On a terminal the table is redrawn in place; in a log, a snapshot is printed now and then.
  if (interactive) process.stdout.write(`\x1b[H\x1b[2J${table}\n`);
}

/** Redraws until `done` says the ring has settled, or a timeout. */
async function watch(
  rest: RestClient,
  done: (current: Snapshot) => boolean,
  timeoutMs = 90_000,
): Promise<Snapshot> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const current = await snapshot(rest);
    draw(current);
    if (done(current) || Date.now() > deadline) {
      if (!interactive) console.log(renderTable(current, [...shardRows.values()], []));
      return current;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function startShard(name: string): Promise<void> {
  shardRows.set(name, { name, state: 'starting' });
  const shard = await startExampleShard({
    kubeconfigPath: cluster?.controlPlane.kubeconfigPath ?? '',
    ring,
    name,
    namespace: shardNamespace,
    leaseDurationSeconds,
    dir: logDir,
  });
  shardProcesses.set(name, shard);
  shardRows.set(name, { name, state: 'running' });
}

const settled = (running: number) => (current: Snapshot) =>
  current.unassigned === 0 && current.draining === 0 && current.perShard.size === running;

let stopping: Promise<void> | undefined;
function stopAll(): Promise<void> {
  stopping ??= (async () => {
    await Promise.all([...shardProcesses.values()].map((shard) => shard.stop()));
    await Promise.all(sharders.map((sharder) => sharder.stop()));
    await cluster?.stop();
  })();
  return stopping;
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    console.log('\nstopping the demo ...');
    void stopAll().then(() => process.exit(130));
  });
}

try {
  console.log('starting the embedded control plane (the first run builds it from source, ~8 minutes) ...');
  cluster = await startTestCluster();
  const { rest } = cluster;
  const certificates = await webhookCertificates();
  logDir = await mkdtemp(join(tmpdir(), 'controller-rings-demo-'));
  for (const name of ['controller-rings-system', shardNamespace]) await createNamespace(rest, name);
  await createNamespace(rest, namespace, { 'controller-rings.io/demo': 'true' });
  for (const identity of ['sharder-0', 'sharder-1']) {
    sharders.push(
      await startSharder({
        kubeconfigPath: cluster.controlPlane.kubeconfigPath,
        namespace: 'controller-rings-system',
        identity,
        certificates,
        args: quickLeaderElection,
      }),
    );
  }
  say('the sharder runs with 2 replicas: both serve the webhook, the elected leader runs the controllers');
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
    namespaceSelector: { matchLabels: { 'controller-rings.io/demo': 'true' } },
    shardLeaseNamespaces: [shardNamespace],
  });
  say(`ControllerRing ${ring}: ConfigMaps, each with a controlled Secret holding its digest`);
  for (const name of ['shard-0', 'shard-1', 'shard-2']) await startShard(name);
  say('3 shards of the example controller joined the ring, each with its own Lease');

  const started = Date.now();
  for (let i = 0; i < objectCount; i++) {
    await rest.request({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      body: { metadata: { name: `config-${i}` }, data: { index: String(i) } },
    });
  }
  say(`created ${objectCount} ConfigMaps: the webhook labelled each with its shard at creation`);
  await watch(rest, settled(3));

  const victim = 'shard-1';
  await shardProcesses.get(victim)?.kill();
  shardProcesses.delete(victim);
  shardRows.set(victim, { name: victim, state: 'killed' });
  const killedAt = Date.now();
  say(
    `SIGKILL ${victim}: its Lease expires, the sharder takes it over and moves its objects (no drain: it is dead)`,
  );
  await watch(rest, settled(2));
  const failover = (Date.now() - killedAt) / 1000;
  say(
    `${victim}'s objects moved to the other shards after ${failover.toFixed(1)} s (lease ${leaseDurationSeconds} s)`,
  );

  await startShard('shard-3');
  say('shard-3 joins: about 1/3 of the objects are drained to it, each old shard letting go first');
  await watch(rest, (current) => settled(3)(current) && (current.perShard.get('shard-3') ?? 0) > 0);
  say('rebalanced: every object is on the shard the consistent hash ring gives it');
  const final = await snapshot(rest);
  draw(final);

  console.log(`\nsummary after ${((Date.now() - started) / 1000).toFixed(0)} s:`);
  for (const [name, count] of [...final.perShard].sort()) console.log(`  ${name}: ${count} objects`);
  console.log(`  failover of a killed shard: ${failover.toFixed(1)} s; logs of every process: ${logDir}`);
  await stopAll();
  console.log('stopped everything: control plane, sharders and shards.');
} catch (error) {
  console.error(`demo failed: ${errorMessage(error)}`);
  await stopAll();
  process.exit(1);
}
