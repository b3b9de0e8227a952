// The metrics of the sharder and of the shard library (docs/metrics.md), scraped from real processes against
// the real API server while a ring goes through a scenario: two sharder replicas (one leads), a ring whose spec
// changes, example shards joining one after the other and one leaving, the ring's deletion. Each step asserts
// the values that move with it, as Prometheus would read them: gauges as the largest of the replicas' values
// (every replica computes them from its caches), counters summed over the replicas (each counts what it did).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { drainLabel, ringsPath, shardLabel } from '../../api/v1alpha1/index.ts';
import type { KubeObject } from '../../runtime/object.ts';
import { patchTypes, type RestClient } from '../../runtime/rest.ts';
import { ShardAdapter } from '../../shard/adapter.ts';
import { eventually } from '../support/eventually.ts';
import { startExampleShard, type ExampleShard } from '../support/example-shard.ts';
import { parseMetrics, scrape, valueOf, type Sample } from '../support/metrics.ts';
import { ensurePromtool, promtool } from '../support/promtool.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing, listObjects } from '../support/rings.ts';
import {
  quickLeaderElection,
  startSharder,
  webhookCertificates,
  type SharderProcess,
  type WebhookFiles,
} from '../support/sharder.ts';

const ring = 'metrics';
const namespace = 'metrics-apps';
const shardNamespace = 'metrics-shards';
const configMaps = `/api/v1/namespaces/${namespace}/configmaps`;
const states = ['ready', 'expired', 'uncertain', 'dead', 'orphaned'];
let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let files: WebhookFiles;
const sharders: SharderProcess[] = [];
const shards = new Map<string, ExampleShard>();
const adapters: ShardAdapter[] = [];

/** Every replica's samples. */
function scrapeSharders(): Promise<Sample[][]> {
  return Promise.all(sharders.map((sharder) => scrape(sharder.probePort)));
}

/** A gauge as dashboards aggregate the replicas (max by ring): undefined when no replica has the series. */
function gauge(replicas: Sample[][], name: string, labels: Record<string, string>): number | undefined {
  const values = replicas.map((samples) => valueOf(samples, name, labels)).filter((v) => v !== undefined);
  return values.length === 0 ? undefined : Math.max(...values);
}

/** A counter summed over the replicas: each counts the syncs it ran while it led. */
function counter(replicas: Sample[][], name: string, labels: Record<string, string>): number {
  return replicas.reduce((total, samples) => total + (valueOf(samples, name, labels) ?? 0), 0);
}

/** The ring's shards by state, every state's series present. */
function shardsByState(replicas: Sample[][]): Record<string, number | undefined> {
  return Object.fromEntries(
    states.map((state) => [state, gauge(replicas, 'controller_rings_ring_shards', { ring, state })]),
  );
}

interface SyncCounts {
  syncs: number;
  examined: number;
  moves: number;
  drains: number;
}

function syncCounts(replicas: Sample[][]): SyncCounts {
  return {
    syncs: counter(replicas, 'controller_rings_syncs_total', { ring, result: 'success' }),
    examined: counter(replicas, 'controller_rings_sync_objects_examined_total', { ring }),
    moves: counter(replicas, 'controller_rings_sync_actions_total', { ring, action: 'move' }),
    drains: counter(replicas, 'controller_rings_sync_actions_total', { ring, action: 'drain' }),
  };
}

/** A shard's objects and acknowledged drains of `resource`. */
async function shardCounts(name: string, resource: string): Promise<{ objects?: number; drains?: number }> {
  const samples = await scrape(shards.get(name)?.metricsPort ?? 0);
  return {
    objects: valueOf(samples, 'controller_rings_shard_objects', { ring, resource }),
    drains: valueOf(samples, 'controller_rings_shard_drains_acknowledged_total', { ring, resource }),
  };
}

async function startShard(name: string): Promise<ExampleShard> {
  const shard = await startExampleShard({
    kubeconfigPath: cluster?.controlPlane.kubeconfigPath ?? '',
    ring,
    name,
    namespace: shardNamespace,
    leaseDurationSeconds: 4,
    dir: files.dir,
  });
  shards.set(name, shard);
  return shard;
}

async function createConfigMap(name: string): Promise<void> {
  await rest.request({ method: 'POST', path: configMaps, body: { metadata: { name }, data: { name } } });
}

/** How many of the ring's ConfigMaps carry each shard label value (`none` for unassigned ones). */
async function configMapsByShard(): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const object of await listObjects(rest, configMaps)) {
    const shard = object.metadata.labels?.[shardLabel(ring)] ?? 'none';
    counts[shard] = (counts[shard] ?? 0) + 1;
  }
  return counts;
}

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  for (const name of ['sharder-system', shardNamespace]) await createNamespace(rest, name);
  await createNamespace(rest, namespace, { metrics: 'true' });
  files = await webhookCertificates();
  const kubeconfigPath = cluster.controlPlane.kubeconfigPath;
  for (const identity of ['sharder-0', 'sharder-1']) {
    sharders.push(
      await startSharder({
        kubeconfigPath,
        namespace: 'sharder-system',
        identity,
        certificates: files,
        args: [...quickLeaderElection, '--sync-period=1m'],
      }),
    );
  }
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
    namespaceSelector: { matchLabels: { metrics: 'true' } },
    shardLeaseNamespaces: [shardNamespace],
  });
});

afterAll(async () => {
  await Promise.all(adapters.map((adapter) => adapter.stop()));
  await Promise.all([...shards.values()].map((shard) => shard.stop()));
  await Promise.all(sharders.map((sharder) => sharder.stop()));
  await cluster?.stop();
});

describe('sharder and shard metrics through a ring’s life', () => {
  it('report the leader on one replica only, and a new ring with every state at 0 on both', async () => {
    await eventually(async () => {
      const replicas = await scrapeSharders();
      const leader = replicas.map((samples) =>
        valueOf(samples, 'leader_election_master_status', { name: 'controller-rings-sharder' }),
      );
      expect(leader.sort()).toEqual([0, 1]);
      for (const samples of replicas) {
        expect(shardsByState([samples])).toEqual({
          ready: 0,
          expired: 0,
          uncertain: 0,
          dead: 0,
          orphaned: 0,
        });
        expect(valueOf(samples, 'controller_rings_ring_generation', { ring })).toBe(1);
        expect(valueOf(samples, 'controller_rings_ring_observed_generation', { ring })).toBe(1);
        for (const reason of ['UntrustedNamespace', 'InvalidName', 'DuplicateName']) {
          expect(valueOf(samples, 'controller_rings_ring_ignored_leases', { ring, reason })).toBe(0);
        }
      }
      // No shards: not Ready.
      expect(gauge(replicas, 'controller_rings_ring_ready', { ring })).toBe(0);
      expect(counter(replicas, 'controller_rings_syncs_total', { ring, result: 'success' })).toBeGreaterThan(
        0,
      );
    });
  });

  it('move the observed generation after a spec change, whose sync counts what it left unassigned', async () => {
    // No shard yet: the webhook leaves it alone, and the sync after the spec change finds it unassigned.
    await createConfigMap('early');
    await rest.request({
      method: 'PATCH',
      path: `${ringsPath}/${ring}`,
      contentType: patchTypes.merge,
      body: { spec: { shardLeaseNamespaces: [shardNamespace, 'more-shards'] } },
    });
    await eventually(async () => {
      const replicas = await scrapeSharders();
      for (const samples of replicas) {
        expect(valueOf(samples, 'controller_rings_ring_generation', { ring })).toBe(2);
        expect(valueOf(samples, 'controller_rings_ring_observed_generation', { ring })).toBe(2);
      }
      expect(gauge(replicas, 'controller_rings_sync_unassigned_objects', { ring })).toBe(1);
      // Only the leader runs the sync: the other replica has no such series.
      expect(
        replicas.filter(
          (samples) => valueOf(samples, 'controller_rings_sync_unassigned_objects', { ring }) !== undefined,
        ),
      ).toHaveLength(1);
    });
  });

  it('count a first shard ready, the objects it owns, and the sync that moved the unassigned object to it', async () => {
    const before = syncCounts(await scrapeSharders());
    await startShard('shard-0');
    for (let i = 1; i < 20; i++) await createConfigMap(`config-${i}`);
    await eventually(async () => {
      expect(await configMapsByShard()).toEqual({ 'shard-0': 20 });
      const replicas = await scrapeSharders();
      expect(shardsByState(replicas)).toEqual({ ready: 1, expired: 0, uncertain: 0, dead: 0, orphaned: 0 });
      expect(gauge(replicas, 'controller_rings_ring_ready', { ring })).toBe(1);
      expect(gauge(replicas, 'controller_rings_sync_unassigned_objects', { ring })).toBe(0);
      const after = syncCounts(replicas);
      expect(after.syncs).toBeGreaterThan(before.syncs);
      // 'early' had no shard: moved (the others were assigned by the webhook).
      expect(after.moves).toBeGreaterThanOrEqual(before.moves + 1);
      // Every ConfigMap has its digest Secret on the shard, drains none yet.
      expect(await shardCounts('shard-0', 'configmaps')).toEqual({ objects: 20, drains: 0 });
      expect(await shardCounts('shard-0', 'secrets')).toEqual({ objects: 20, drains: 0 });
      const samples = await scrape(shards.get('shard-0')?.metricsPort ?? 0);
      expect(valueOf(samples, 'leader_election_master_status', { name: 'shard-0' })).toBe(1);
      // The example's reconciles of its 20 ConfigMaps, by result, timed, through its queue, which is empty now.
      const controller = 'configmap-digest';
      const queue = { name: controller, controller };
      const success = { controller, result: 'success' };
      expect(valueOf(samples, 'controller_runtime_reconcile_total', success)).toBeGreaterThanOrEqual(20);
      expect(valueOf(samples, 'controller_runtime_reconcile_errors_total', { controller })).toBe(0);
      expect(
        valueOf(samples, 'controller_runtime_reconcile_time_seconds_count', { controller }),
      ).toBeGreaterThanOrEqual(20);
      expect(valueOf(samples, 'workqueue_adds_total', queue)).toBeGreaterThanOrEqual(20);
      expect(valueOf(samples, 'workqueue_queue_duration_seconds_count', queue)).toBeGreaterThanOrEqual(20);
      expect(valueOf(samples, 'workqueue_depth', queue)).toBe(0);
    });
  });

  it('count the rebalance when a second shard joins: syncs, objects examined, drains, and what each shard owns', async () => {
    const before = syncCounts(await scrapeSharders());
    await startShard('shard-1');
    await eventually(async () => {
      const byShard = await configMapsByShard();
      expect(byShard['shard-1']).toBeGreaterThan(0);
      expect((byShard['shard-0'] ?? 0) + (byShard['shard-1'] ?? 0)).toBe(20);
      const replicas = await scrapeSharders();
      expect(shardsByState(replicas)).toEqual({ ready: 2, expired: 0, uncertain: 0, dead: 0, orphaned: 0 });
      const after = syncCounts(replicas);
      expect(after.syncs).toBeGreaterThan(before.syncs);
      // The rebalance looked at every ConfigMap and Secret of the ring.
      expect(after.examined - before.examined).toBeGreaterThanOrEqual(40);
      const moved = byShard['shard-1'] ?? 0;
      // Each moved ConfigMap left shard-0 through a drain, which shard-0 acknowledged.
      expect(after.drains - before.drains).toBeGreaterThanOrEqual(moved);
      expect(await shardCounts('shard-0', 'configmaps')).toEqual({ objects: 20 - moved, drains: moved });
      expect(await shardCounts('shard-1', 'configmaps')).toEqual({ objects: moved, drains: 0 });
      // The digest Secrets went with their ConfigMaps.
      expect(await shardCounts('shard-0', 'secrets')).toEqual({ objects: 20 - moved, drains: moved });
      expect(await shardCounts('shard-1', 'secrets')).toEqual({ objects: moved, drains: 0 });
    });
  });

  it("pass promtool's metrics linter, the sharders' and the shards' expositions alike", async () => {
    const binary = await ensurePromtool();
    const ports = [
      ...sharders.map((sharder) => sharder.probePort),
      ...[...shards.values()].map((shard) => shard.metricsPort),
    ];
    for (const port of ports) {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(text).toContain('controller_rings_');
      const { stdout, stderr } = await promtool(binary, ['check', 'metrics'], {}, text);
      // prom-client's default metrics include three gauges named *_total, which the linter names: its names,
      // kept as they are so that Node.js dashboards work; the check holds every other metric to the conventions.
      const problems = stderr
        .split('\n')
        .filter((line) => line !== '' && !/^nodejs_active_(handles|requests|resources)_total /.test(line));
      expect({ port, stdout, problems }).toEqual({ port, stdout: '', problems: [] });
    }
  });

  it('count a shard that left gracefully as dead, and its objects back on the other', async () => {
    expect(await shards.get('shard-1')?.stop()).toBe(0);
    await eventually(async () => {
      const replicas = await scrapeSharders();
      expect(shardsByState(replicas)).toEqual({ ready: 1, expired: 0, uncertain: 0, dead: 1, orphaned: 0 });
      expect(await shardCounts('shard-0', 'configmaps')).toMatchObject({ objects: 20 });
    });
  });

  it('leave no series of the ring on the sharder once it is deleted', async () => {
    await rest.request({ method: 'DELETE', path: `${ringsPath}/${ring}` });
    await eventually(
      async () => {
        expect(await getRing(rest, ring)).toBeUndefined();
        const replicas = await scrapeSharders();
        for (const samples of replicas) {
          expect(
            samples.filter((sample) => sample.labels.ring === ring).map((sample) => sample.name),
          ).toEqual([]);
        }
      },
      { timeoutMs: 60_000 },
    );
  });
});

describe('ShardAdapter metrics', () => {
  const adapterRing = 'adapter-metrics';
  const adapterNamespace = 'adapter-metrics-apps';
  const resource = { group: '', resource: 'configmaps' };
  const path = `/api/v1/namespaces/${adapterNamespace}/configmaps`;

  function adapter(name: string): ShardAdapter {
    const shard = new ShardAdapter({
      ring: adapterRing,
      name,
      namespace: shardNamespace,
      kubeConfig: cluster?.kubeConfig ?? new KubeConfig(),
      logger: pino({ level: 'silent' }),
      leaseDurationSeconds: 4,
    });
    adapters.push(shard);
    return shard;
  }

  async function values(shard: ShardAdapter, name: string): Promise<Record<string, number | undefined>> {
    const samples = parseMetrics(await shard.metrics.registry.metrics());
    return {
      leader: valueOf(samples, 'leader_election_master_status', { name }),
      objects: valueOf(samples, 'controller_rings_shard_objects', {
        ring: adapterRing,
        resource: 'configmaps',
      }),
      drains: valueOf(samples, 'controller_rings_shard_drains_acknowledged_total', {
        ring: adapterRing,
        resource: 'configmaps',
      }),
    };
  }

  it('report the Lease, the objects of the cache given to countObjects, and the drains the guard acknowledged', async () => {
    await createNamespace(rest, adapterNamespace, { 'adapter-metrics': 'true' });
    await createRing(rest, adapterRing, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { 'adapter-metrics': 'true' } },
      shardLeaseNamespaces: [shardNamespace],
    });
    const first = adapter('adapter-0');
    // The author's informer, which the test fills from the API server with the adapter's label selector.
    let cache: KubeObject[] = [];
    const refresh = async (): Promise<KubeObject[]> => {
      const list = await rest.request<{ items: KubeObject[] }>({
        path,
        query: { labelSelector: first.labelSelector },
      });
      cache = list.items;
      return cache;
    };
    first.countObjects(resource, { list: () => cache });
    expect(await values(first, 'adapter-0')).toEqual({ leader: 0, objects: 0, drains: 0 });
    await first.start();
    await eventually(async () => {
      expect((await getRing(rest, adapterRing))?.status?.availableShards).toBe(1);
    });
    for (let i = 0; i < 10; i++) {
      await rest.request({ method: 'POST', path, body: { metadata: { name: `adapted-${i}` } } });
    }
    await eventually(async () => {
      expect(await refresh()).toHaveLength(10);
      expect(await values(first, 'adapter-0')).toEqual({ leader: 1, objects: 10, drains: 0 });
    });

    // A second shard: the sync drains some of the first's objects, which the first's guard hands over.
    const second = adapter('adapter-1');
    await second.start();
    const drained = await eventually(async () => {
      const objects = (await refresh()).filter(
        (o) => o.metadata?.labels?.[drainLabel(adapterRing)] === 'true',
      );
      expect(objects.length).toBeGreaterThan(0);
      return objects;
    });
    for (const object of drained) expect(await first.guard(resource, object)).toBe('handed-over');
    await eventually(async () => {
      await refresh();
      expect(await values(first, 'adapter-0')).toEqual({
        leader: 1,
        objects: 10 - drained.length,
        drains: drained.length,
      });
    });
    // The second never had countObjects: its resource has no objects series, its guard no drains yet.
    expect(await values(second, 'adapter-1')).toEqual({ leader: 1, objects: undefined, drains: undefined });
    await second.stop();
    expect((await values(second, 'adapter-1')).leader).toBe(0);
  });
});
