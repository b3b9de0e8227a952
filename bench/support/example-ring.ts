// What the scale-out, cache-split and handover benchmarks share: an embedded control plane with the sharder as
// a real process and a ring of the example controller (ConfigMaps, each with its digest Secret), its objects,
// shards of the example as real processes, a watch that times what the API server sees, and CPU readings.
import { mkdtemp } from 'node:fs/promises';
import { join } from 'node:path';
import { drainLabel, shardLabel } from '../../api/v1alpha1/index.ts';
import { forEachConcurrently } from '../../runtime/concurrency.ts';
import { listMetadata, type PartialObjectMetadata } from '../../runtime/pager.ts';
import { isTransient, metadataAccept, type RestClient } from '../../runtime/rest.ts';
import { compactEtcd, etcdRevision } from '../../test/support/etcd.ts';
import { startExampleShard, type ExampleShard } from '../../test/support/example-shard.ts';
import { FakeShard } from '../../test/support/fake-shard.ts';
import { startTestCluster, type TestCluster } from '../../test/support/own-control-plane.ts';
import { createNamespace, createRing, getRing } from '../../test/support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../../test/support/sharder.ts';

export const ring = 'bench';
/** The ring's objects live here; the shards' Leases in `shardNamespace`. */
export const objectNamespace = 'objects';
export const shardNamespace = 'shards';
export const configMapsPath = `/api/v1/namespaces/${objectNamespace}/configmaps`;
export const secretsPath = `/api/v1/namespaces/${objectNamespace}/secrets`;

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface ExampleRing {
  cluster: TestCluster;
  sharder: SharderProcess;
  /** Logs of the sharder and the shards. */
  logDir: string;
  stop(): Promise<void>;
}

/** The control plane, one sharder replica (no leader election) and the ring, ConfigMaps with their Secrets. */
export async function startExampleRing(sharderArgs: string[] = []): Promise<ExampleRing> {
  const cluster = await startTestCluster();
  try {
    const { rest } = cluster;
    for (const name of ['controller-rings-system', shardNamespace]) await createNamespace(rest, name);
    await createNamespace(rest, objectNamespace, { 'controller-rings.io/bench': 'true' });
    const certificates = await webhookCertificates();
    const sharder = await startSharder({
      kubeconfigPath: cluster.controlPlane.kubeconfigPath,
      namespace: 'controller-rings-system',
      identity: 'sharder-0',
      certificates,
      args: ['--leader-elect=false', '--log-level=info', ...sharderArgs],
    });
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
      namespaceSelector: { matchLabels: { 'controller-rings.io/bench': 'true' } },
      shardLeaseNamespaces: [shardNamespace],
    });
    return {
      cluster,
      sharder,
      logDir: certificates.dir,
      stop: async () => {
        await sharder.stop();
        await cluster.stop();
      },
    };
  } catch (error) {
    await cluster.stop();
    throw error;
  }
}

/** Waits until the ring counts exactly `count` available shards and the webhook labels a dry-run create. */
export async function ringHasShards(rest: RestClient, count: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const available = (await getRing(rest, ring))?.status?.availableShards;
    const probe =
      available === count &&
      (await rest
        .request<PartialObjectMetadata>({
          method: 'POST',
          path: configMapsPath,
          query: { dryRun: 'All' },
          body: { metadata: { name: 'probe' } },
        })
        .then((object) => object.metadata.labels?.[shardLabel(ring)] !== undefined));
    if (probe) return;
    if (Date.now() > deadline) throw new Error(`the ring did not get to ${count} available shards`);
    await sleep(250);
  }
}

/** Creates ConfigMaps `config-<from>` ... `config-<to - 1>`, each with `dataBytes` of data. */
export async function createConfigMaps(
  rest: RestClient,
  from: number,
  to: number,
  dataBytes: number,
): Promise<void> {
  const filler = 'x'.repeat(dataBytes);
  const indexes = Array.from({ length: to - from }, (_, i) => from + i);
  await forEachConcurrently(indexes, 16, async (i) => {
    await rest.request({
      method: 'POST',
      path: configMapsPath,
      body: { metadata: { name: `config-${i}` }, data: { index: String(i), filler } },
    });
  });
}

/** The ConfigMaps per shard label ('' for none), and the drained ones. */
export async function assignments(
  rest: RestClient,
): Promise<{ perShard: Map<string, string[]>; draining: number }> {
  const perShard = new Map<string, string[]>();
  let draining = 0;
  for await (const object of listMetadata(rest, configMapsPath)) {
    const labels = object.metadata.labels ?? {};
    const shard = labels[shardLabel(ring)] ?? '';
    perShard.set(shard, [...(perShard.get(shard) ?? []), `${objectNamespace}/${object.metadata.name ?? ''}`]);
    if (labels[drainLabel(ring)] !== undefined) draining++;
  }
  return { perShard, draining };
}

/** Deletes the ring's ConfigMaps and Secrets and waits until both are gone. */
export async function deleteObjects(rest: RestClient): Promise<void> {
  for (const path of [configMapsPath, secretsPath]) {
    for (;;) {
      await rest.request({ method: 'DELETE', path }).catch((error: unknown) => {
        if (!isTransient(error)) throw error;
      });
      const left = await rest.request<{ items?: unknown[] }>({ path, query: { limit: 1 } });
      if ((left.items ?? []).length === 0) break;
      await sleep(200);
    }
  }
}

/** FakeShards that hold the Leases of `names` until the real shards of those names take them over. */
export async function holdLeases(rest: RestClient, names: readonly string[]): Promise<FakeShard[]> {
  const fakes = names.map(
    (name) => new FakeShard(rest, { ring, name, namespace: shardNamespace, durationSeconds: 60 }),
  );
  await Promise.all(fakes.map((fake) => fake.join()));
  return fakes;
}

export interface ShardStart {
  kubeconfigPath: string;
  logDir: string;
  leaseDurationSeconds: number;
  /** More flags of the example, e.g. its limits. */
  args: string[];
  /** Options of node itself. */
  nodeArgs?: string[];
}

/** Starts shards of the example at once and waits until all have joined. */
export function startShards(names: readonly string[], options: ShardStart): Promise<ExampleShard[]> {
  return Promise.all(
    names.map((name) =>
      startExampleShard({
        kubeconfigPath: options.kubeconfigPath,
        ring,
        name,
        namespace: shardNamespace,
        leaseDurationSeconds: options.leaseDurationSeconds,
        dir: options.logDir,
        // Info, not the harness's debug: a line per request would cost the shards more than their reconciles.
        args: ['--log-level=info', ...options.args],
        ...(options.nodeArgs === undefined ? {} : { nodeArgs: options.nodeArgs }),
      }),
    ),
  );
}

/** A fresh directory for one configuration's shard logs and records. */
export function shardDir(parent: string, label: string): Promise<string> {
  return mkdtemp(join(parent, `${label}-`));
}

/**
 * The wall-clock time (ms) at which the API server's watch delivered each Secret's creation, by the name of
 * its ConfigMap (`namespace/name`). Start it before the Secrets are created; stop() ends the watch.
 */
export class SecretWatch {
  readonly created = new Map<string, number>();
  /** The shard label of each Secret at its creation, by the name of its ConfigMap. */
  readonly shardOf = new Map<string, string>();
  readonly #stop = new AbortController();
  readonly #done: Promise<void>;
  #waiters: { count: number; resolve: () => void }[] = [];

  private constructor(rest: RestClient, resourceVersion: string) {
    this.#done = rest
      .watch<PartialObjectMetadata>(
        secretsPath,
        { resourceVersion, timeoutSeconds: 3600, allowWatchBookmarks: false },
        ({ type, object }) => {
          const name = object.metadata.name ?? '';
          if (type !== 'ADDED' || !name.endsWith('-digest')) return;
          const owner = `${objectNamespace}/${name.slice(0, -'-digest'.length)}`;
          if (!this.created.has(owner)) {
            this.created.set(owner, Date.now());
            this.shardOf.set(owner, object.metadata.labels?.[shardLabel(ring)] ?? '');
          }
          this.#waiters = this.#waiters.filter((waiter) => {
            if (this.created.size < waiter.count) return true;
            waiter.resolve();
            return false;
          });
        },
        this.#stop.signal,
        { accept: metadataAccept },
      )
      .catch((error: unknown) => {
        if (!this.#stop.signal.aborted) throw error;
      });
  }

  static async start(rest: RestClient): Promise<SecretWatch> {
    const list = await rest.request<{ metadata?: { resourceVersion?: string } }>({
      path: secretsPath,
      query: { limit: 1 },
    });
    return new SecretWatch(rest, list.metadata?.resourceVersion ?? '0');
  }

  /** Resolves once `count` Secrets were created; rejects after `timeoutMs`. */
  async until(count: number, timeoutMs: number): Promise<void> {
    if (this.created.size >= count) return;
    const reached = new Promise<void>((resolve) => this.#waiters.push({ count, resolve }));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`${this.created.size} of ${count} digest Secrets after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      await Promise.race([reached, timeout, this.#done.then(() => Promise.reject(new Error('watch ended')))]);
    } finally {
      clearTimeout(timer);
    }
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    await this.#done;
  }
}

/**
 * Gives etcd back the space of deleted objects: compacts its history to the current revision and defragments
 * it. Without it, a benchmark that writes gigabytes hits etcd's default quota (2 GiB, "database space
 * exceeded") before the API server's own compaction (every 5 min) and a defragmentation would free it.
 */
export async function reclaimEtcd(etcdUrl: string): Promise<void> {
  await compactEtcd(etcdUrl, await etcdRevision(etcdUrl));
  const response = await fetch(`${etcdUrl}/v3/maintenance/defragment`, { method: 'POST', body: '{}' });
  if (!response.ok) throw new Error(`etcd defragment answered ${response.status}: ${await response.text()}`);
}
