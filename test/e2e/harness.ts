// The end-to-end environment: a control plane of its own, two sharder replicas, shards of the example
// controller as real processes, a watch recording every label change of the ring's objects, and the shards'
// life events (and, with the audit log on, every write request and its sender), so that a scenario can hand a
// complete history to the invariant checker.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { drainLabel, drainValue, shardLabel } from '../../api/v1alpha1/index.ts';
import { digestOf, digestSecretName } from '../../examples/configmap-digest/controller.ts';
import { HashRing } from '../../sharding/ring.ts';
import { parseDuration } from '../../runtime/duration.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { readRecords, startExampleShard, type ExampleShard } from '../support/example-shard.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, listObjects } from '../support/rings.ts';
import {
  startSharder,
  quickLeaderElection,
  webhookCertificates,
  type SharderProcess,
  type WebhookFiles,
} from '../support/sharder.ts';
import { startWebhookService, type WebhookService } from '../support/webhook-service.ts';
import {
  pairReconcileEvents,
  summarize,
  type CheckOptions,
  type FencingOptions,
  type History,
  type LabelObservation,
  type ObjectCreation,
  type ShardEvent,
  type Summary,
  type WriteRecord,
} from './invariants.ts';

export const ring = 'configmap-digest';
export const namespace = 'e2e';
const sharderNamespace = 'controller-rings-system';
const shardNamespace = 'shards';
export const leaseDurationSeconds = 3;

/** The Leases that fence the sharder's controllers and the shards, with their timing (invariant 6). */
function fencingOptions(): FencingOptions {
  const flag = (name: string): number => {
    const value = quickLeaderElection.find((arg) => arg.startsWith(`--leader-election-${name}=`));
    return parseDuration(value?.split('=')[1] ?? '');
  };
  return {
    sharderLease: `${sharderNamespace}/controller-rings-sharder`,
    sharder: { renewDeadlineMs: flag('renew-deadline'), leaseDurationMs: flag('lease-duration') },
    shardLeaseNamespace: shardNamespace,
    // The shard library renews within 2/3 of the Lease duration (shard/shard.ts).
    shard: {
      renewDeadlineMs: Math.round((leaseDurationSeconds * 1000 * 2) / 3),
      leaseDurationMs: leaseDurationSeconds * 1000,
    },
  };
}

export interface EndToEndOptions {
  /** The API server's audit log, from which invariant 6 is judged. */
  auditLog?: boolean;
  /** More flags for every sharder replica. */
  sharderArgs?: string[];
}

/** One event of the API server's audit log, as far as read here. */
interface AuditEvent {
  userAgent?: string;
  verb?: string;
  requestReceivedTimestamp?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

/** The process behind a user agent (cmd/sharder/sharder.ts, shard/shard.ts), if a sharder's or a shard's. */
function writerOf(userAgent: string): WriteRecord['writer'] | undefined {
  const sharder = /^controller-rings-sharder\/(.+)$/.exec(userAgent);
  if (sharder?.[1] !== undefined) return { role: 'sharder', name: sharder[1] };
  const shard = /^controller-rings-shard\/[^/]+\/(.+)$/.exec(userAgent);
  if (shard?.[1] !== undefined) return { role: 'shard', name: shard[1] };
  return undefined;
}

interface Watched {
  metadata: { name: string; labels?: Record<string, string> };
}

export class EndToEnd {
  readonly cluster: TestCluster;
  readonly rest: RestClient;
  readonly #files: WebhookFiles;
  readonly #webhookService: WebhookService;
  readonly #dir: string;
  readonly #options: EndToEndOptions;
  readonly sharders = new Map<string, SharderProcess>();
  readonly shards = new Map<string, ExampleShard>();
  /** Shards paused with SIGSTOP: out of the ring for converged(), until resumed. */
  readonly #paused = new Map<string, ExampleShard>();
  readonly #recordFiles = new Set<string>();
  readonly #labels: LabelObservation[] = [];
  readonly #shardEvents: ShardEvent[] = [];
  readonly #objects: ObjectCreation[] = [];
  readonly #watching = new AbortController();
  #watch: Promise<void> | undefined;

  private constructor(
    cluster: TestCluster,
    files: WebhookFiles,
    webhookService: WebhookService,
    dir: string,
    options: EndToEndOptions,
  ) {
    this.#options = options;
    this.cluster = cluster;
    this.rest = cluster.rest;
    this.#files = files;
    this.#webhookService = webhookService;
    this.#dir = dir;
  }

  static async start(options: EndToEndOptions = {}): Promise<EndToEnd> {
    const cluster = await startTestCluster({ auditLog: options.auditLog ?? false });
    const environment = new EndToEnd(
      cluster,
      await webhookCertificates(),
      await startWebhookService(),
      await mkdtemp(join(tmpdir(), 'e2e-')),
      options,
    );
    try {
      await environment.#setUp();
    } catch (error) {
      await environment.stop();
      throw error;
    }
    return environment;
  }

  async #setUp(): Promise<void> {
    for (const name of [sharderNamespace, shardNamespace]) await createNamespace(this.rest, name);
    await createNamespace(this.rest, namespace, { 'controller-rings.io/e2e': 'true' });
    for (const identity of ['sharder-0', 'sharder-1']) await this.startSharder(identity);
    await createRing(this.rest, ring, {
      resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
      namespaceSelector: { matchLabels: { 'controller-rings.io/e2e': 'true' } },
    });
    const collection = `/api/v1/namespaces/${namespace}/configmaps`;
    const listed = await this.rest.request<{ metadata: { resourceVersion: string } }>({ path: collection });
    this.#watch = this.rest.watch<Watched>(
      collection,
      { resourceVersion: listed.metadata.resourceVersion },
      ({ type, object }) => {
        const labels = object.metadata.labels ?? {};
        this.#labels.push({
          object: `${namespace}/${object.metadata.name}`,
          time: Date.now(),
          shard: labels[shardLabel(ring)],
          drain: labels[drainLabel(ring)] === drainValue,
          ...(type === 'DELETED' ? { deleted: true } : {}),
        });
      },
      this.#watching.signal,
    );
  }

  async startSharder(identity: string): Promise<SharderProcess> {
    const sharder = await startSharder({
      kubeconfigPath: this.cluster.controlPlane.kubeconfigPath,
      namespace: sharderNamespace,
      identity,
      certificates: this.#files,
      webhookUrl: this.#webhookService.url,
      args: [...quickLeaderElection, '--sync-period=10s', ...(this.#options.sharderArgs ?? [])],
    });
    this.sharders.set(identity, sharder);
    this.#webhookService.ports.add(sharder.webhookPort);
    return sharder;
  }

  /** The replica holding the sharder's leader Lease. */
  async sharderLeader(): Promise<string> {
    const lease = await this.rest.request<ILease>({
      path: `/apis/coordination.k8s.io/v1/namespaces/${sharderNamespace}/leases/controller-rings-sharder`,
    });
    return lease.spec?.holderIdentity ?? '';
  }

  #record(shard: string, type: ShardEvent['type']): void {
    this.#shardEvents.push({ shard, time: Date.now(), type });
  }

  async startShard(name: string): Promise<ExampleShard> {
    this.#record(name, 'started');
    const shard = await startExampleShard({
      kubeconfigPath: this.cluster.controlPlane.kubeconfigPath,
      ring,
      name,
      namespace: shardNamespace,
      leaseDurationSeconds,
      dir: this.#dir,
    });
    // Ready means it holds its Lease: the earliest the sharder may assign objects to it.
    this.#record(name, 'ready');
    this.shards.set(name, shard);
    this.#recordFiles.add(shard.recordFile);
    return shard;
  }

  async stopShard(name: string): Promise<void> {
    const shard = this.shards.get(name);
    if (shard === undefined) throw new Error(`no shard ${name}`);
    this.#record(name, 'stopping');
    const code = await shard.stop();
    this.#record(name, 'stopped');
    this.shards.delete(name);
    if (code !== 0) throw new Error(`shard ${name} exited with code ${String(code)} on SIGTERM`);
  }

  async killShard(name: string): Promise<void> {
    const shard = this.shards.get(name);
    if (shard === undefined) throw new Error(`no shard ${name}`);
    this.#record(name, 'killed');
    await shard.kill();
    this.shards.delete(name);
  }

  /** SIGSTOP: the shard keeps its connections but does nothing, as a frozen process would; returns when. */
  pauseShard(name: string): number {
    const shard = this.shards.get(name);
    if (shard?.pid === undefined) throw new Error(`no shard ${name}`);
    this.#record(name, 'paused');
    process.kill(shard.pid, 'SIGSTOP');
    this.shards.delete(name);
    this.#paused.set(name, shard);
    return Date.now();
  }

  /**
   * SIGCONT to a paused shard, which finds its Lease lost and exits (examples/configmap-digest/main.ts does on
   * a lost Lease); resolves with its exit code once it has exited.
   */
  async resumeShard(name: string): Promise<number | null> {
    const shard = this.#paused.get(name);
    if (shard?.pid === undefined) throw new Error(`no paused shard ${name}`);
    this.#record(name, 'resumed');
    process.kill(shard.pid, 'SIGCONT');
    const code = await shard.exited;
    this.#record(name, 'stopped');
    this.#paused.delete(name);
    return code;
  }

  /** SIGSTOP to a sharder replica; returns when. */
  pauseSharder(identity: string): number {
    const pid = this.sharders.get(identity)?.pid;
    if (pid === undefined) throw new Error(`no sharder ${identity}`);
    const time = Date.now();
    process.kill(pid, 'SIGSTOP');
    return time;
  }

  /** SIGCONT to a paused sharder replica; returns when. */
  resumeSharder(identity: string): number {
    const pid = this.sharders.get(identity)?.pid;
    if (pid === undefined) throw new Error(`no sharder ${identity}`);
    process.kill(pid, 'SIGCONT');
    return Date.now();
  }

  /** How often a sharder replica has logged that its controllers stopped (at the end of each term). */
  async controllerStops(identity: string): Promise<number> {
    const logPath = this.sharders.get(identity)?.logPath;
    if (logPath === undefined) throw new Error(`no sharder ${identity}`);
    const log = await readFile(logPath, 'utf8');
    return log.split('\n').filter((line) => line.includes('"msg":"controllers stopped"')).length;
  }

  /** The write requests of sharder replicas and shards so far, from the audit log (empty without it). */
  async writes(): Promise<WriteRecord[]> {
    const path = this.cluster.controlPlane.auditLogPath;
    if (path === undefined) return [];
    const writes: WriteRecord[] = [];
    for (const line of (await readFile(path, 'utf8')).split('\n')) {
      if (line === '') continue;
      const event = JSON.parse(line) as AuditEvent;
      const writer = writerOf(event.userAgent ?? '');
      if (writer === undefined) continue;
      const { namespace, name } = event.objectRef ?? {};
      writes.push({
        writer,
        verb: event.verb ?? '',
        resource: event.objectRef?.resource ?? '',
        object: namespace ? `${namespace}/${name ?? ''}` : (name ?? ''),
        time: Date.parse(event.requestReceivedTimestamp ?? ''),
        code: event.responseStatus?.code ?? 0,
      });
    }
    return writes;
  }

  async createObjects(names: string[]): Promise<void> {
    for (const name of names) {
      this.#objects.push({ object: `${namespace}/${name}`, created: Date.now() });
      await this.rest.request({
        method: 'POST',
        path: `/api/v1/namespaces/${namespace}/configmaps`,
        body: { metadata: { name }, data: { value: name } },
      });
    }
  }

  /** Changes objects' data now and then while `during` runs, so that shards keep reconciling. */
  async withChurn<T>(objects: string[], during: () => Promise<T>): Promise<T> {
    const churning = { on: true };
    let round = 0;
    const churn = (async () => {
      while (churning.on) {
        const name = objects[round++ % objects.length] ?? '';
        await this.rest
          .request({
            method: 'PATCH',
            path: `/api/v1/namespaces/${namespace}/configmaps/${name}`,
            contentType: 'application/merge-patch+json',
            body: { data: { round: String(round) } },
          })
          .catch(() => undefined);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    try {
      return await during();
    } finally {
      churning.on = false;
      await churn;
    }
  }

  /**
   * Waits until every object is on the shard the hash ring gives it among the running shards, without drain
   * label, and its digest Secret is current and on the same shard: the system has converged.
   */
  async converged(timeoutMs = 60_000): Promise<void> {
    await eventually(
      async () => {
        const objects = (await listObjects(
          this.rest,
          `/api/v1/namespaces/${namespace}/configmaps`,
        )) as IConfigMap[];
        const secrets = new Map(
          ((await listObjects(this.rest, `/api/v1/namespaces/${namespace}/secrets`)) as ISecret[]).map(
            (s) => [s.metadata?.name, s],
          ),
        );
        const hashRing = new HashRing(this.shards.keys());
        const stale = objects.filter((object) => {
          const labels = object.metadata?.labels ?? {};
          const shard = labels[shardLabel(ring)];
          const desired = hashRing.shardFor(`/ConfigMap/${namespace}/${object.metadata?.name ?? ''}`);
          const secret = secrets.get(digestSecretName(object.metadata?.name ?? ''));
          return (
            shard !== desired ||
            labels[drainLabel(ring)] !== undefined ||
            secret?.data?.digest !== btoa(digestOf(object)) ||
            secret.metadata?.labels?.[shardLabel(ring)] !== shard
          );
        });
        if (stale.length > 0) {
          throw new Error(
            `${stale.length} objects not converged, e.g. ${JSON.stringify(stale[0]?.metadata)}`,
          );
        }
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** Resolves once the test's watch has seen a drain label set after `since`: a rebalance is under way. */
  async drainObserved(since: number): Promise<void> {
    await eventually(() => {
      if (!this.#labels.some((observation) => observation.time >= since && observation.drain)) {
        throw new Error('no drain label observed yet');
      }
    });
  }

  /** Everything recorded so far, judged by the invariant checker. */
  async check(options: Omit<CheckOptions, 'end'>): Promise<Summary> {
    const events = [];
    for (const file of this.#recordFiles) {
      for (const line of await readRecords(file)) {
        events.push({ object: line.object, shard: line.shard, time: line.time, phase: line.event });
      }
    }
    const history: History = {
      reconciles: pairReconcileEvents(events),
      labels: [...this.#labels],
      shards: [...this.#shardEvents],
      objects: [...this.#objects],
      writes: await this.writes(),
    };
    const fencing = this.#options.auditLog === true ? { fencing: fencingOptions() } : {};
    return summarize(history, { ...options, ...fencing, end: Date.now() });
  }

  async stop(): Promise<void> {
    this.#watching.abort();
    await this.#watch?.catch(() => undefined);
    for (const shard of this.#paused.values()) {
      if (shard.pid !== undefined && shard.running) process.kill(shard.pid, 'SIGCONT');
    }
    await Promise.all([...this.shards.values(), ...this.#paused.values()].map((shard) => shard.stop()));
    await Promise.all([...this.sharders.values()].map((sharder) => sharder.stop()));
    await this.#webhookService.close();
    await this.cluster.stop();
  }
}
