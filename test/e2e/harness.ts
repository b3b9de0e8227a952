// The end-to-end environment: a control plane of its own, two sharder replicas, shards of the example
// controller as real processes, a watch recording every label change of the ring's objects, the shards' and
// sharders' life events and the API server's outages (and, with the audit log on, every write request and its
// sender), so that a scenario can hand a complete history to the invariant checker. Faults are the scenario's:
// the harness kills, pauses, stops, restarts and cuts off on request. Sharders and shards may run from the
// image instead, as their Deployments run them (sharderImage, startShard's image).
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { drainLabel, drainValue, ringsPath, shardLabel, type CanarySpec } from '../../api/v1alpha1/index.ts';
import { digestAnnotation, digestOf, digestSecretName } from '../../examples/configmap-digest/controller.ts';
import { SplitHashRing } from '../../sharding/canary.ts';
import { matchesSelector } from '../../sharding/label-selector.ts';
import { forEachConcurrently } from '../../runtime/concurrency.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { isGone, metadataListAccept, type RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import type { ContainerProcess } from '../support/container.ts';
import {
  readRecords,
  startExampleShard,
  startExampleShardContainer,
  type ExampleShard,
} from '../support/example-shard.ts';
import { exampleShardPod, sharderPod } from '../support/image-pods.ts';
import { readLogEntries } from '../support/log-lines.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, listObjects } from '../support/rings.ts';
import {
  sharderLeader,
  startSharder,
  startSharderContainer,
  quickLeaderElection,
  webhookCertificates,
  type SharderProcess,
  type WebhookFiles,
} from '../support/sharder.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';
import { startWebhookService, type WebhookService } from '../support/webhook-service.ts';
import {
  pairReconcileEvents,
  summarize,
  type CheckOptions,
  type FencingOptions,
  type History,
  type Interval,
  type LabelObservation,
  type LevelObservation,
  type ObjectCreation,
  type SharderEvent,
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
    // A shard has up to its reconcile concurrency (4, examples/configmap-digest/controller.ts) of writes in
    // flight, more than a sharder replica's sync (--sync-concurrency=1 where paused) and status writes; a
    // resumed process sends what it had written within moments, a second even on a loaded machine.
    inFlightAtPause: { writes: 4, withinMs: 1_000 },
  };
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
  metadata: {
    name: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
}

/** The levels of the chain below the ConfigMaps with `chain` (examples/configmap-digest/controller.ts). */
const chainLevels = ['secrets', 'serviceaccounts'] as const;

export interface EndToEndOptions {
  /** Flags of this environment's kube-apiserver (e.g. --watch-cache=false). */
  apiServerArgs?: string[];
  /** Sharders and shards reach the API server through a TCP proxy that cutConnections() cuts. */
  proxy?: boolean;
  /**
   * A shard process that exits on its own (the example shard does when it loses its Lease) is started again,
   * as its Deployment would. Without this, it stays down and the ring does not converge on it.
   */
  restartExitedShards?: boolean;
  /** The shards' Lease duration; default leaseDurationSeconds. */
  leaseDurationSeconds?: number;
  /** The sharders' leader-election flags; default quickLeaderElection. */
  leaderElection?: string[];
  /** More flags for every sharder replica. */
  sharderArgs?: string[];
  /** The API server's audit log, from which invariant 6 is judged. */
  auditLog?: boolean;
  /** Every sharder replica runs from this image, as the sharder's Deployment runs it. */
  sharderImage?: string;
  /** The ring's spec.assignment; default the API's (Webhook). */
  assignment?: 'Webhook' | 'Watch';
  /**
   * A chain of controllers: the ring declares ConfigMap → Secret → ServiceAccount, the shards keep the
   * ServiceAccounts (--digest-service-accounts), the label changes of both levels are recorded for the chain
   * rule, and converged() waits for the ServiceAccounts too.
   */
  chain?: boolean;
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
  /** The Lease labels each shard was last started with (startShard), kept for its restarts. */
  readonly #leaseLabels = new Map<string, Readonly<Record<string, string>>>();
  /** The ring's spec.canary as setCanary() last set it. */
  #canary: CanarySpec | undefined;
  /** Shards paused with SIGSTOP: out of the ring for converged(), until resumed. */
  readonly #paused = new Map<string, ExampleShard>();
  readonly #recordFiles = new Set<string>();
  readonly #labels: LabelObservation[] = [];
  readonly #levels: LevelObservation[] = [];
  readonly #shardEvents: ShardEvent[] = [];
  readonly #objects: ObjectCreation[] = [];
  readonly #sharderEvents: SharderEvent[] = [];
  readonly #outages: Interval[] = [];
  readonly #watching = new AbortController();
  /** Shards the harness itself is stopping or killing: their exit is expected. */
  readonly #leaving = new Set<ExampleShard>();
  readonly #restarts = new Set<Promise<void>>();
  /** Every container started, removed at the end whatever happened. */
  readonly #containers = new Set<ContainerProcess>();
  #shardExits = 0;
  #watch: Promise<unknown> | undefined;
  #watchFailure: Error | undefined;
  #proxy: TcpProxy | undefined;
  #cutAt: number | undefined;
  /** The kubeconfig sharders and shards use: the control plane's, or the proxy's. */
  #processKubeconfig: string;

  private constructor(
    cluster: TestCluster,
    files: WebhookFiles,
    webhookService: WebhookService,
    dir: string,
    options: EndToEndOptions,
  ) {
    this.cluster = cluster;
    this.rest = cluster.rest;
    this.#files = files;
    this.#webhookService = webhookService;
    this.#dir = dir;
    this.#options = options;
    this.#processKubeconfig = cluster.controlPlane.kubeconfigPath;
  }

  static async start(options: EndToEndOptions = {}): Promise<EndToEnd> {
    const cluster = await startTestCluster({
      apiServerArgs: options.apiServerArgs ?? [],
      auditLog: options.auditLog ?? false,
    });
    const environment = new EndToEnd(
      cluster,
      await webhookCertificates(),
      await startWebhookService(),
      await mkdtemp(join(tmpdir(), 'e2e-')),
      options,
    );
    try {
      if (options.proxy === true) await environment.#startProxy();
      await environment.#setUp();
    } catch (error) {
      await environment.stop();
      throw error;
    }
    return environment;
  }

  async #startProxy(): Promise<void> {
    this.#proxy = await startTcpProxy(this.cluster.kubeConfig);
    this.#processKubeconfig = join(this.#dir, 'proxied-kubeconfig');
    await writeFile(this.#processKubeconfig, this.#proxy.kubeConfig.exportConfig(), { mode: 0o600 });
  }

  async #setUp(): Promise<void> {
    for (const name of [sharderNamespace, shardNamespace]) await createNamespace(this.rest, name);
    await createNamespace(this.rest, namespace, { 'controller-rings.io/e2e': 'true' });
    for (const identity of ['sharder-0', 'sharder-1']) await this.startSharder(identity);
    const controlledResources =
      this.#options.chain === true
        ? [{ resource: 'secrets' }, { resource: 'serviceaccounts', owner: { resource: 'secrets' } }]
        : [{ resource: 'secrets' }];
    await createRing(this.rest, ring, {
      resources: [{ resource: 'configmaps', controlledResources }],
      namespaceSelector: { matchLabels: { 'controller-rings.io/e2e': 'true' } },
      shardLeaseNamespaces: [shardNamespace],
      ...(this.#options.assignment === undefined ? {} : { assignment: this.#options.assignment }),
    });
    const watches = [
      this.#recordLabels('configmaps', (observation) => this.#labels.push(observation)),
      ...(this.#options.chain === true
        ? chainLevels.map((resource) =>
            this.#recordLabels(resource, (observation) => {
              // A level's objects are named after their root (the namespace's default ServiceAccount is none).
              const root = this.#objects
                .map((creation) => creation.object)
                .find((object) => digestSecretName(object) === observation.object);
              if (root === undefined) return;
              this.#levels.push({ ...observation, resource, root });
            }),
          )
        : []),
    ];
    this.#watch = Promise.all((await Promise.all(watches)).map(({ watching }) => watching));
  }

  /**
   * Lists `resource` in the namespace, then records every label change of it from there on (`watching` runs
   * until stop()), re-watching from the last event when a watch ends or fails (the API server
   * restarting). The history must have no gap: a watch that cannot resume (410 Gone) fails the check.
   */
  async #recordLabels(
    resource: string,
    record: (observation: LabelObservation) => void,
  ): Promise<{ watching: Promise<void> }> {
    const collection = `/api/v1/namespaces/${namespace}/${resource}`;
    const listed = await this.rest.request<{ metadata: { resourceVersion: string } }>({ path: collection });
    return { watching: this.#watchLabels(collection, listed.metadata.resourceVersion, record) };
  }

  async #watchLabels(
    collection: string,
    listedVersion: string,
    record: (observation: LabelObservation) => void,
  ): Promise<void> {
    const signal = this.#watching.signal;
    let resourceVersion = listedVersion;
    while (!signal.aborted && this.#watchFailure === undefined) {
      try {
        await this.rest.watch<Watched>(
          collection,
          { resourceVersion },
          ({ type, object }) => {
            if (type === 'ERROR') {
              this.#watchFailure = new Error(`the label watch failed: ${JSON.stringify(object)}`);
              return;
            }
            if (this.#watchFailure !== undefined) return;
            resourceVersion = object.metadata.resourceVersion ?? resourceVersion;
            const labels = object.metadata.labels ?? {};
            const observation = {
              object: `${namespace}/${object.metadata.name}`,
              time: Date.now(),
              shard: labels[shardLabel(ring)],
              drain: labels[drainLabel(ring)] === drainValue,
              ...(type === 'DELETED' ? { deleted: true } : {}),
              ...(object.metadata.resourceVersion === undefined
                ? {}
                : { version: Number(object.metadata.resourceVersion) }),
            };
            record(observation);
          },
          signal,
        );
      } catch (error) {
        if (isGone(error)) this.#watchFailure = new Error('the label watch expired', { cause: error });
        else await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  }

  async startSharder(identity: string): Promise<SharderProcess> {
    this.#recordSharder(identity, 'started');
    const options = {
      kubeconfigPath: this.#processKubeconfig,
      namespace: sharderNamespace,
      identity,
      certificates: this.#files,
      webhookUrl: this.#webhookService.url,
      args: [
        ...(this.#options.leaderElection ?? quickLeaderElection),
        '--sync-period=10s',
        ...(this.#options.sharderArgs ?? []),
      ],
    };
    const image = this.#options.sharderImage;
    const sharder =
      image === undefined
        ? await startSharder(options)
        : await this.#container(startSharderContainer({ ...options, image, pod: sharderPod() }));
    this.#recordSharder(identity, 'ready');
    this.sharders.set(identity, sharder);
    this.#webhookService.ports.add(sharder.webhookPort);
    return sharder;
  }

  /** SIGKILL of a sharder replica; its webhook port leaves the service first, as its endpoint would. */
  async killSharder(identity: string): Promise<void> {
    const sharder = this.sharders.get(identity);
    if (sharder === undefined) throw new Error(`no sharder ${identity}`);
    this.#webhookService.ports.delete(sharder.webhookPort);
    this.#recordSharder(identity, 'killed');
    await sharder.kill();
    this.sharders.delete(identity);
  }

  #recordSharder(replica: string, type: SharderEvent['type']): number {
    const time = Date.now();
    this.#sharderEvents.push({ replica, time, type });
    return time;
  }

  /**
   * Stops kube-apiserver and starts it again (etcd keeps running); the time it is away is an outage for the
   * invariant checks.
   */
  async restartApiServer(): Promise<void> {
    const from = Date.now();
    try {
      await this.cluster.controlPlane.restartApiServer();
    } finally {
      this.#outages.push({ from, to: Date.now() });
    }
  }

  /** Resets every connection of the sharders and shards to the API server and refuses new ones (proxy only). */
  cutConnections(): void {
    if (this.#proxy === undefined) throw new Error('the environment was started without a proxy');
    this.#cutAt ??= Date.now();
    this.#proxy.cut();
  }

  resumeConnections(): void {
    if (this.#proxy === undefined || this.#cutAt === undefined) return;
    this.#proxy.resume();
    this.#outages.push({ from: this.#cutAt, to: Date.now() });
    this.#cutAt = undefined;
  }

  /** The log lines (JSON) a sharder or shard process wrote since `since`. */
  async logLines(process: { logPath: string }, since: number): Promise<Record<string, unknown>[]> {
    const lines = await readLogEntries(process.logPath);
    return lines.filter((line) => typeof line.time === 'number' && line.time >= since);
  }

  /** The replica holding the sharder's leader Lease. */
  async sharderLeader(): Promise<string> {
    return (await sharderLeader(this.rest, sharderNamespace)) ?? '';
  }

  #record(shard: string, type: ShardEvent['type']): void {
    this.#shardEvents.push({ shard, time: Date.now(), type });
  }

  /**
   * Starts a shard, as a process or from `image` as the example's Deployment runs it, its Lease labelled with
   * `leaseLabels` (default: those it was last started with; processes only).
   */
  async startShard(
    name: string,
    image?: string,
    leaseLabels: Readonly<Record<string, string>> = this.#leaseLabels.get(name) ?? {},
  ): Promise<ExampleShard> {
    this.#record(name, 'started');
    this.#leaseLabels.set(name, leaseLabels);
    let shard: ExampleShard;
    try {
      const options = {
        kubeconfigPath: this.#processKubeconfig,
        ring,
        name,
        namespace: shardNamespace,
        leaseDurationSeconds: this.#options.leaseDurationSeconds ?? leaseDurationSeconds,
        dir: this.#dir,
        args: [
          ...Object.entries(leaseLabels).map(([key, value]) => `--lease-label=${key}=${value}`),
          ...(this.#options.chain === true ? ['--digest-service-accounts'] : []),
        ],
      };
      shard =
        image === undefined
          ? await startExampleShard(options)
          : await this.#container(startExampleShardContainer({ ...options, image, pod: exampleShardPod() }));
    } catch (error) {
      // startExampleShard has killed it, or it exited.
      this.#record(name, 'stopped');
      throw error;
    }
    // Ready means it holds its Lease: the earliest the sharder may assign objects to it.
    this.#record(name, 'ready');
    this.shards.set(name, shard);
    this.#recordFiles.add(shard.recordFile);
    void shard.exited.then(() => {
      this.#exited(name, shard);
    });
    return shard;
  }

  /** Keeps a started container for the cleanup in stop() (one that failed to start is gone: run --rm). */
  async #container<C extends ContainerProcess>(starting: Promise<C>): Promise<C> {
    const container = await starting;
    this.#containers.add(container);
    return container;
  }

  /** A shard process ended without the harness asking: recorded, and started again if the options say so. */
  #exited(name: string, shard: ExampleShard): void {
    if (this.#leaving.has(shard)) return;
    this.#shardExits++;
    this.#record(name, 'stopped');
    if (this.shards.get(name) === shard) this.shards.delete(name);
    if (this.#options.restartExitedShards !== true || this.#watching.signal.aborted) return;
    const restart = (async () => {
      while (!this.#watching.signal.aborted) {
        try {
          await this.startShard(name);
          return;
        } catch {
          // E.g. the API server is still away and its readiness wait gave up. Again after a while, as a kubelet.
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
    })();
    this.#restarts.add(restart);
    void restart.finally(() => this.#restarts.delete(restart));
  }

  /** Resolves once every shard that exited on its own runs again (see restartExitedShards). */
  async shardsRestarted(): Promise<void> {
    while (this.#restarts.size > 0) await Promise.all(this.#restarts);
  }

  /** How many times a shard process exited without the harness asking. */
  get shardExits(): number {
    return this.#shardExits;
  }

  async stopShard(name: string): Promise<void> {
    const shard = this.shards.get(name);
    if (shard === undefined) throw new Error(`no shard ${name}`);
    this.#leaving.add(shard);
    this.#record(name, 'stopping');
    const code = await shard.stop();
    this.#record(name, 'stopped');
    this.shards.delete(name);
    if (code !== 0) throw new Error(`shard ${name} exited with code ${String(code)} on SIGTERM`);
  }

  async killShard(name: string): Promise<void> {
    const shard = this.shards.get(name);
    if (shard === undefined) throw new Error(`no shard ${name}`);
    this.#leaving.add(shard);
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
    const time = this.#recordSharder(identity, 'paused');
    process.kill(pid, 'SIGSTOP');
    return time;
  }

  /** SIGCONT to a paused sharder replica; returns when. */
  resumeSharder(identity: string): number {
    const pid = this.sharders.get(identity)?.pid;
    if (pid === undefined) throw new Error(`no sharder ${identity}`);
    const time = this.#recordSharder(identity, 'resumed');
    process.kill(pid, 'SIGCONT');
    return time;
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

  /** Creates the objects, `concurrency` requests at a time; resolves with what the API server returned. */
  async createObjects(names: string[], concurrency = 1): Promise<Watched[]> {
    const created: Watched[] = [];
    await forEachConcurrently(names, concurrency, async (name) => {
      this.#objects.push({ object: `${namespace}/${name}`, created: Date.now() });
      created.push(
        await this.rest.request<Watched>({
          method: 'POST',
          path: `/api/v1/namespaces/${namespace}/configmaps`,
          body: { metadata: { name }, data: { value: name } },
        }),
      );
    });
    return created;
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

  /** Sets the ring's spec.canary (undefined: removes it); converged() then expects the split. */
  async setCanary(canary: CanarySpec | undefined): Promise<void> {
    await this.rest.request({
      method: 'PATCH',
      path: `${ringsPath}/${ring}`,
      contentType: 'application/merge-patch+json',
      body: { spec: { canary: canary ?? null } },
    });
    this.#canary = canary;
  }

  /**
   * Waits until every object is on the shard the hash ring gives it among the running shards (split as
   * setCanary() said, by the Lease labels they were started with), without drain
   * label, and its digest Secret (with `chain`, its ServiceAccount too) is current and on the same shard: the
   * system has converged.
   */
  async converged(timeoutMs = 60_000): Promise<void> {
    await this.shardsRestarted();
    const configMaps = `/api/v1/namespaces/${namespace}/configmaps`;
    await eventually(
      async () => {
        const started = Date.now();
        const objects = (await listObjects(this.rest, configMaps)) as IConfigMap[];
        const secrets = new Map(
          ((await listObjects(this.rest, `/api/v1/namespaces/${namespace}/secrets`)) as ISecret[]).map(
            (s) => [s.metadata?.name, s],
          ),
        );
        const serviceAccounts = new Map(
          this.#options.chain === true
            ? (
                (await listObjects(this.rest, `/api/v1/namespaces/${namespace}/serviceaccounts`)) as Watched[]
              ).map((s) => [s.metadata.name, s])
            : [],
        );
        // A ConfigMap that changed while the Secrets were listed (the churn) may be a moment ahead of its
        // Secret: its digest is judged in a later round, or once the churn has stopped.
        const later = await this.rest.request<{ items: Watched[] }>({
          path: configMaps,
          accept: metadataListAccept,
        });
        const versions = new Map(later.items.map((o) => [o.metadata.name, o.metadata.resourceVersion]));
        const names = [...this.shards.keys()].sort();
        const selector = this.#canary?.shardSelector;
        const isCanary = (name: string): boolean =>
          selector !== undefined && matchesSelector(selector, this.#leaseLabels.get(name));
        const hashRing = new SplitHashRing({
          percent: this.#canary?.percent ?? 0,
          canary: names.filter(isCanary),
          stable: names.filter((name) => !isCanary(name)),
        });
        const stale = objects.filter((object) => {
          const labels = object.metadata?.labels ?? {};
          const shard = labels[shardLabel(ring)];
          const desired = hashRing.shardFor(`/ConfigMap/${namespace}/${object.metadata?.name ?? ''}`);
          const secret = secrets.get(digestSecretName(object.metadata?.name ?? ''));
          const changing = versions.get(object.metadata?.name ?? '') !== object.metadata?.resourceVersion;
          const serviceAccount = serviceAccounts.get(digestSecretName(object.metadata?.name ?? ''));
          const staleServiceAccount =
            this.#options.chain === true &&
            (serviceAccount === undefined ||
              (!changing && serviceAccount.metadata.annotations?.[digestAnnotation] !== digestOf(object)) ||
              serviceAccount.metadata.labels?.[shardLabel(ring)] !== shard);
          return (
            shard !== desired ||
            labels[drainLabel(ring)] !== undefined ||
            secret === undefined ||
            (!changing && secret.data?.digest !== btoa(digestOf(object))) ||
            secret.metadata?.labels?.[shardLabel(ring)] !== shard ||
            staleServiceAccount
          );
        });
        if (stale.length > 0) {
          // These lists load the API server the ring needs: with thousands of objects, wait as long again.
          await new Promise((resolve) => setTimeout(resolve, Date.now() - started));
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

  /** How many objects the test's watch saw get a drain label at or after `since`. */
  drainsObservedSince(since: number): number {
    const draining = new Map<string, boolean>();
    let count = 0;
    for (const { object, time, drain } of this.#labels) {
      if (drain && draining.get(object) !== true && time >= since) count++;
      draining.set(object, drain);
    }
    return count;
  }

  /** Everything recorded so far, judged by the invariant checker. */
  async check(options: Omit<CheckOptions, 'end'>): Promise<Summary> {
    if (this.#watchFailure !== undefined) throw this.#watchFailure;
    const events = [];
    for (const file of this.#recordFiles) {
      for (const line of await readRecords(file)) {
        events.push({
          object: line.object,
          shard: line.shard,
          time: line.time,
          phase: line.event,
          ...(line.error === undefined ? {} : { error: line.error }),
          ...(line.reason === undefined ? {} : { reason: line.reason }),
        });
      }
    }
    const history: History = {
      reconciles: pairReconcileEvents(events),
      labels: [...this.#labels],
      ...(this.#options.chain === true ? { levels: [...this.#levels] } : {}),
      shards: [...this.#shardEvents],
      objects: [...this.#objects],
      sharders: [...this.#sharderEvents],
      outages: [...this.#outages],
      writes: await this.writes(),
    };
    const fencing = this.#options.auditLog === true ? { fencing: fencingOptions() } : {};
    return summarize(history, { ...options, ...fencing, end: Date.now() });
  }

  async stop(): Promise<void> {
    this.#watching.abort();
    this.#proxy?.resume();
    await this.#watch?.catch(() => undefined);
    await this.shardsRestarted();
    for (const shard of this.#paused.values()) {
      if (shard.pid !== undefined && shard.running) process.kill(shard.pid, 'SIGCONT');
    }
    for (const shard of this.shards.values()) this.#leaving.add(shard);
    try {
      await Promise.all([...this.shards.values(), ...this.#paused.values()].map((shard) => shard.stop()));
      await Promise.all([...this.sharders.values()].map((sharder) => sharder.stop()));
    } finally {
      await Promise.all([...this.#containers].map((container) => container.remove()));
    }
    await this.#webhookService.close();
    await this.#proxy?.close();
    await this.cluster.stop();
  }
}
