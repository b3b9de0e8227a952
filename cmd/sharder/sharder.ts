// The sharder program's parts wired together: informers on rings, shard Leases, webhook configurations and
// namespaces (never on the sharded objects), the admission webhook on every replica, and the controllers on
// the elected leader only.
import { setTimeout as sleep } from 'node:timers/promises';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { ringLabel, ringsPath, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { Controller, type Reconciler } from '../../runtime/controller.ts';
import { systemClock } from '../../runtime/clock.ts';
import { Discovery } from '../../runtime/discovery.ts';
import { errorMessage } from '../../runtime/error-message.ts';
import { EventRecorder } from '../../runtime/events.ts';
import { ownerReader } from '../../runtime/owner-reader.ts';
import { FailureLog } from '../../runtime/failure-log.ts';
import { FencedClient } from '../../runtime/fence.ts';
import { Informer, objectKey, type InformerOptions } from '../../runtime/informer.ts';
import { LeaderElector, type Fence } from '../../runtime/leader-election.ts';
import type { Logger } from '../../runtime/logger.ts';
import { Metrics } from '../../runtime/metrics.ts';
import { MonitoringServer } from '../../runtime/monitoring-server.ts';
import { Probes } from '../../runtime/probes.ts';
import { RestClient, type ClusterAccess } from '../../runtime/rest.ts';
import { AssignmentWatchers } from '../../controllers/assignment/watchers.ts';
import { AccessChecker } from '../../controllers/controllerring/access.ts';
import { ControllerRingReconciler } from '../../controllers/controllerring/reconciler.ts';
import { reportingController, RingEvents } from '../../controllers/ring-events.ts';
import type { WebhookConfigurationOptions } from '../../controllers/controllerring/webhook-configuration.ts';
import { ShardLeaseReconciler } from '../../controllers/shardlease/reconciler.ts';
import { RebalanceEvents } from '../../controllers/sync/rebalance-events.ts';
import { SyncReconciler } from '../../controllers/sync/reconciler.ts';
import { UnresolvedChainsObserver } from '../../controllers/sync/unresolved-chains.ts';
import { Assigner, type RingDirectory } from '../../webhook/assign.ts';
import { webhookPath } from '../../webhook/path.ts';
import { WebhookServer } from '../../webhook/server.ts';
import type { Address, SharderConfig, WebhookCertificateFiles } from './config.ts';
import { sharderMetrics, type SharderMetrics } from './metrics.ts';
import { ManagedCertificates } from './managed-certificates.ts';
import { readWebhookCertificates, type WebhookCertificates } from './webhook-certificates.ts';
import { bundleTrusts, servingNames } from './webhook-secret.ts';

/** How soon the sync looks again at objects that kept conflicting or whose shard came back during it. */
const syncRetryAfterMs = 2_000;

/** The controllers while this replica leads. */
interface Leading {
  shardLeases: Controller;
  rings: Controller;
  sync: Controller;
  syncReconciler: SyncReconciler;
  /** The watches of the rings that assign by watch (spec.assignment: Watch). */
  assignment: AssignmentWatchers;
  /** The ring's Events, written through the term's fenced client. */
  recorder: EventRecorder;
  events: RingEvents;
}

type AnyInformer = Pick<Informer<ILease>, 'start' | 'stop' | 'waitForSync' | 'hasSynced'>;

function sameAddress(a: Address, b: Address | undefined): boolean {
  return b !== undefined && a.host === b.host && a.port === b.port;
}

export class Sharder {
  readonly #config: SharderConfig;
  readonly #logger: Logger;
  readonly #kubeConfig: ClusterAccess;
  readonly #userAgent: string;
  /** Informers, the webhook's reads and leader election; the controllers write through a fenced client. */
  readonly #rest: RestClient;
  readonly #metrics = new Metrics();
  readonly #sharderMetrics: SharderMetrics;
  readonly #probes = new Probes();
  readonly #rings: Informer<ControllerRing>;
  readonly #leases: Informer<ILease>;
  readonly #webhookConfigurations: Informer<IMutatingWebhookConfiguration>;
  readonly #namespaces: Informer<INamespace>;
  readonly #informers: AnyInformer[];
  readonly #monitoring: MonitoringServer[] = [];
  #webhook: WebhookServer | undefined;
  #certificates: WebhookCertificates | undefined;
  #certificateReload: NodeJS.Timeout | undefined;
  readonly #reloadFailures = new FailureLog(systemClock);
  /** Files someone else renews, or (without files) the Secret the replicas share and the leader rotates. */
  readonly #certificateSource: { files: WebhookCertificateFiles } | { managed: ManagedCertificates };
  #elector: LeaderElector | undefined;
  #leading: Leading | undefined;
  /** Without leader election: aborts the controllers, and the run that ends once they have stopped. */
  #unelected: { stop: AbortController; run: Promise<void> } | undefined;

  constructor(config: SharderConfig, kubeConfig: ClusterAccess, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#kubeConfig = kubeConfig;
    // One user agent per replica: the API server's audit log tells replicas' writes apart.
    this.#userAgent = `controller-rings-sharder/${config.identity}`;
    this.#rest = new RestClient(kubeConfig, this.#userAgent);
    // Each informer names itself in its lines (`informer`: its path).
    const options = (path: string, extra: Partial<InformerOptions> = {}): InformerOptions => ({
      path,
      ...extra,
      logger,
    });
    this.#rings = new Informer(this.#rest, options(ringsPath));
    this.#leases = new Informer(
      this.#rest,
      options('/apis/coordination.k8s.io/v1/leases', { labelSelector: ringLabel }),
    );
    this.#webhookConfigurations = new Informer(
      this.#rest,
      options('/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations', {
        labelSelector: ringLabel,
      }),
    );
    this.#namespaces = new Informer(this.#rest, options('/api/v1/namespaces', { metadataOnly: true }));
    this.#informers = [this.#rings, this.#leases, this.#webhookConfigurations, this.#namespaces];
    this.#sharderMetrics = sharderMetrics(this.#metrics.registry, {
      rings: () => this.#rings.list(),
      leases: () => this.#leases.list(),
      leading: () => this.#leading !== undefined,
      assignmentWatches: () => this.#leading?.assignment.held() ?? [],
    });
    const { certificates, clientConfig, reloadPeriodMs } = config.webhook;
    this.#certificateSource =
      'files' in certificates
        ? certificates
        : {
            managed: new ManagedCertificates({
              ...certificates.secret,
              rest: this.#rest,
              namespace: config.namespace,
              names: servingNames(clientConfig),
              // The API servers read the webhook configurations from their own watches: a reload period of margin.
              propagationMs: reloadPeriodMs,
              logger: logger.child({ component: 'webhook-certificates' }),
            }),
          };
  }

  async start(): Promise<void> {
    const config = this.#config;
    await this.#startMonitoring();
    this.#routeEvents();
    for (const informer of this.#informers) informer.start();
    await Promise.all(this.#informers.map((informer) => informer.waitForSync()));
    await this.#startWebhook();
    const webhook = this.#webhookConfigurationOptions();
    if (config.leaderElection.enabled) {
      const { leaseName, leaseDurationSeconds, renewDeadlineMs, retryPeriodMs } = config.leaderElection;
      this.#elector = new LeaderElector(this.#rest, {
        namespace: config.namespace,
        name: leaseName,
        identity: config.identity,
        leaseDurationSeconds,
        renewDeadlineMs,
        retryPeriodMs,
        metrics: this.#metrics.leaderElectionMetrics(leaseName),
        logger: this.#logger.child({ component: 'leader-election' }),
      });
      void this.#elector.run((signal, fence) => this.#lead(webhook, signal, fence));
    } else {
      const stop = new AbortController();
      this.#unelected = { stop, run: this.#lead(webhook, stop.signal) };
    }
    this.#logger.info(
      { identity: config.identity, leaderElection: config.leaderElection.enabled },
      'sharder started',
    );
  }

  /** Graceful shutdown: the controllers drain and the leader Lease is released, then the servers stop. */
  async stop(): Promise<void> {
    clearInterval(this.#certificateReload);
    this.#unelected?.stop.abort();
    await Promise.all([this.#elector?.stop(), this.#unelected?.run]);
    await this.#webhook?.stop();
    await Promise.all(this.#informers.map((informer) => informer.stop()));
    if ('managed' in this.#certificateSource) await this.#certificateSource.managed.stop();
    for (const server of this.#monitoring) await server.stop();
    this.#rest.close();
  }

  async #startMonitoring(): Promise<void> {
    const { healthProbeAddress, metricsAddress } = this.#config;
    this.#probes.addHealthCheck('ping', () => true);
    this.#probes.addReadinessCheck('informers-synced', () => this.#informers.every((i) => i.hasSynced));
    this.#probes.addReadinessCheck('webhook', () => this.#webhook !== undefined);
    const shared = sameAddress(healthProbeAddress, metricsAddress);
    this.#monitoring.push(
      new MonitoringServer({
        ...healthProbeAddress,
        probes: this.#probes,
        ...(shared ? { metrics: this.#metrics.registry } : {}),
        logger: this.#logger.child({ server: 'probes' }),
      }),
    );
    if (metricsAddress !== undefined && !shared) {
      this.#monitoring.push(
        new MonitoringServer({
          ...metricsAddress,
          metrics: this.#metrics.registry,
          logger: this.#logger.child({ server: 'metrics' }),
        }),
      );
    }
    for (const server of this.#monitoring) await server.start();
  }

  async #startWebhook(): Promise<void> {
    const source = this.#certificateSource;
    this.#certificates =
      'files' in source ? await readWebhookCertificates(source.files) : await source.managed.start();
    const directory: RingDirectory = {
      ring: (name) => this.#rings.get(name),
      leases: () => this.#leases.list(),
    };
    const logger = this.#logger.child({ component: 'webhook' });
    const discovery = new Discovery(this.#rest);
    const server = new WebhookServer({
      handler: new Assigner({
        directory,
        logger,
        // Objects below the first level of a chain of controllers: their root is read up the chain.
        readOwner: (signal) => ownerReader(this.#rest, discovery, signal),
      }),
      tls: this.#certificates,
      metrics: this.#sharderMetrics.webhook,
      ...this.#config.webhook.address,
      logger,
    });
    await server.start();
    this.#webhook = server;
    if ('files' in source) {
      const reload = (): void => void this.#reloadCertificates(source.files);
      this.#certificateReload = setInterval(reload, this.#config.webhook.reloadPeriodMs);
    } else {
      source.managed.onChange((current) => {
        this.#useCertificates(current);
      });
    }
  }

  /**
   * Renewed certificates, from the files or the managed Secret: new connections get the new certificate, and
   * every ring's webhook configuration the new CA bundle.
   */
  #useCertificates(current: WebhookCertificates): void {
    const previous = this.#certificates;
    if (previous === undefined) return;
    if (current.certificate !== previous.certificate || current.privateKey !== previous.privateKey) {
      this.#webhook?.updateCertificate(current);
      this.#logger.info('reloaded the webhook serving certificate');
    }
    this.#certificates = current;
    if (current.caBundle !== previous.caBundle) {
      for (const ring of this.#rings.list()) this.#leading?.rings.enqueue(objectKey(ring));
      this.#logger.info('the webhook CA changed: updating the webhook configurations');
    }
  }

  /** cert-manager (or your tooling) renews the files; checked as at start-up, so bad files are never taken. */
  async #reloadCertificates(files: WebhookCertificateFiles): Promise<void> {
    try {
      this.#useCertificates(await readWebhookCertificates(files));
      this.#reloadFailures.succeeded('reload');
    } catch (error) {
      // Retried every reload period: a problem that stays is logged again now and then, a new one at once.
      const what = errorMessage(error);
      this.#logger[this.#reloadFailures.level('reload', 'error', what)](
        { err: error },
        'failed to reload the webhook certificates; keeping the current ones',
      );
    }
  }

  #webhookConfigurationOptions(): WebhookConfigurationOptions {
    const { webhook, namespace } = this.#config;
    const target = webhook.clientConfig;
    const caBundle = (): string => this.#certificates?.caBundle ?? '';
    return {
      clientConfig: (ring) =>
        'url' in target
          ? { url: `${target.url}${webhookPath(ring)}`, caBundle: caBundle() }
          : { service: { ...target.service, path: webhookPath(ring) }, caBundle: caBundle() },
      excludedNamespaces: ['kube-system', namespace],
    };
  }

  /**
   * Runs the controllers until `signal` aborts (leadership lost or shutdown), then drains them. With leader
   * election their writes go through a client fenced by this term's leadership: none after it is lost or its
   * renew deadline has passed, even from a sync in the middle of its patches.
   */
  async #lead(webhook: WebhookConfigurationOptions, signal: AbortSignal, fence?: Fence): Promise<void> {
    const rest =
      fence === undefined ? this.#rest : new FencedClient(this.#kubeConfig, this.#userAgent, fence);
    const leading = this.#controllers(webhook, rest);
    const all = [leading.shardLeases, leading.rings, leading.sync];
    this.#leading = leading;
    for (const controller of all) controller.start();
    leading.assignment.start();
    for (const lease of this.#leases.list()) leading.shardLeases.enqueue(objectKey(lease));
    for (const ring of this.#rings.list()) {
      leading.rings.enqueue(objectKey(ring));
      leading.sync.enqueue(objectKey(ring));
    }
    this.#logger.info('leading: controllers started');
    const rotation = this.#rotateCertificates(rest, signal);
    if (!signal.aborted) {
      await new Promise((resolve) => {
        signal.addEventListener('abort', resolve, { once: true });
      });
    }
    await rotation;
    this.#leading = undefined;
    await Promise.all(all.map((controller) => controller.stop()));
    // After the ring controller, which starts and stops the watches.
    await leading.assignment.stop();
    // The series counts not written yet; on a graceful stop the fence still lets them through.
    await leading.recorder.stop();
    if (rest !== this.#rest) rest.close();
    this.#logger.info('controllers stopped');
  }

  /** While leading, the managed certificates' rotation, one step every reload period. */
  async #rotateCertificates(rest: RestClient, signal: AbortSignal): Promise<void> {
    const source = this.#certificateSource;
    if (!('managed' in source)) return;
    // Every ring's webhook configuration (the informer holds those of rings only) holds the CA.
    const trusts = (id: string): boolean =>
      this.#webhookConfigurations
        .list()
        .every((configuration) =>
          (configuration.webhooks ?? []).every((webhook) => bundleTrusts(webhook.clientConfig.caBundle, id)),
        );
    while (!signal.aborted) {
      await source.managed.rotate(rest, trusts);
      try {
        await sleep(this.#config.webhook.reloadPeriodMs, undefined, { signal });
      } catch {
        // Aborted: no longer leading.
      }
    }
  }

  #controllers(webhook: WebhookConfigurationOptions, rest: RestClient): Leading {
    const logger = this.#logger;
    const now = (): Date => new Date();
    const discovery = new Discovery(rest);
    const controller = (name: string, reconciler: Reconciler, concurrency: number): Controller =>
      new Controller({ name, reconciler, concurrency, logger, metrics: this.#metrics });
    const recorder = new EventRecorder({
      rest,
      reportingController,
      reportingInstance: this.#config.identity,
      logger: logger.child({ component: 'events' }),
    });
    const events = new RingEvents(recorder, (name) => this.#rings.get(name));
    // The sync's findings on the ring's chains of controllers, for the status the ring controller writes.
    const chains = new UnresolvedChainsObserver((ring) => {
      rings.enqueue(ring);
    });
    const syncReconciler = new SyncReconciler({
      ring: (name) => this.#rings.get(name),
      leases: () => this.#leases.list(),
      namespace: (name) => this.#namespaces.get(name),
      rest,
      discovery,
      excludedNamespaces: webhook.excludedNamespaces,
      concurrency: this.#config.sync.concurrency,
      syncPeriodMs: this.#config.sync.periodMs,
      retryAfterMs: syncRetryAfterMs,
      observers: [this.#sharderMetrics.sync, new RebalanceEvents(events), chains],
      now,
      logger: logger.child({ controller: 'sync' }),
    });
    const shardLeaseReconciler = new ShardLeaseReconciler({
      lease: (key) => this.#leases.get(key),
      leases: () => this.#leases.list(),
      ring: (name) => this.#rings.get(name),
      rest,
      identity: this.#config.identity,
      now,
      logger: logger.child({ controller: 'shardlease' }),
      events,
    });
    const assignment = new AssignmentWatchers({
      ring: (name) => this.#rings.get(name),
      leases: () => this.#leases.list(),
      namespace: (name) => this.#namespaces.get(name),
      watchClient: this.#rest,
      rest,
      discovery,
      excludedNamespaces: webhook.excludedNamespaces,
      // The watch's assignments are the sync's moves, one object at a time: the same bound.
      concurrency: this.#config.sync.concurrency,
      now,
      logger,
      metrics: this.#metrics,
    });
    const ringReconciler = new ControllerRingReconciler({
      ring: (name) => this.#rings.get(name),
      leases: () => this.#leases.list(),
      webhookConfiguration: (name) => this.#webhookConfigurations.get(name),
      rest,
      discovery,
      access: new AccessChecker(rest),
      webhook,
      cleanupConcurrency: this.#config.sync.concurrency,
      assignmentWatches: assignment,
      now,
      logger: logger.child({ controller: 'controllerring' }),
      events,
      chains,
    });
    const rings = controller('controllerring', ringReconciler, 2);
    return {
      shardLeases: controller('shardlease', shardLeaseReconciler, 2),
      rings,
      sync: controller('sync', syncReconciler, 2),
      syncReconciler,
      assignment,
      recorder,
      events,
    };
  }

  /** Informer events only enqueue keys, to whichever controllers run while this replica leads. */
  #routeEvents(): void {
    this.#rings.onEvent(({ type, object, previous }) => {
      const leading = this.#leading;
      if (leading === undefined) return;
      const name = objectKey(object);
      leading.rings.enqueue(name);
      // Status writes change neither the spec nor the deletion: they need no sync.
      const specChanged = previous?.metadata?.generation !== object.metadata?.generation;
      if (type !== 'updated' || specChanged || object.metadata?.deletionTimestamp !== undefined) {
        leading.sync.enqueue(name);
        // The ring may trust other namespaces now: its Leases may have joined or left it.
        for (const lease of this.#leases.list()) {
          if (lease.metadata?.labels?.[ringLabel] === name) leading.shardLeases.enqueue(objectKey(lease));
        }
      }
    });
    this.#leases.onEvent(({ type, object }) => {
      const leading = this.#leading;
      if (leading === undefined) return;
      if (type === 'deleted') leading.events.leaseDeleted(object);
      leading.shardLeases.enqueue(objectKey(object));
      const ring = object.metadata?.labels?.[ringLabel];
      if (ring === undefined) return;
      // A Lease of the same name in another namespace may have become a duplicate, or stopped being one.
      for (const namesake of this.#leases.list()) {
        const { name, labels } = namesake.metadata ?? {};
        if (name === object.metadata?.name && labels?.[ringLabel] === ring) {
          leading.shardLeases.enqueue(objectKey(namesake));
        }
      }
      leading.rings.enqueue(ring);
      if (leading.syncReconciler.membershipChanged(ring)) leading.sync.enqueue(ring);
    });
    // A namespace the rings' selectors now select: the watches' unassigned objects in it may be assigned.
    this.#namespaces.onEvent(({ type, object }) => {
      if (type !== 'deleted') this.#leading?.assignment.namespaceChanged(objectKey(object));
    });
    this.#webhookConfigurations.onEvent(({ object }) => {
      const ring = object.metadata?.labels?.[ringLabel];
      if (ring !== undefined) this.#leading?.rings.enqueue(ring);
    });
  }
}
