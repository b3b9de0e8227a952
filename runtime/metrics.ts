// Prometheus metrics of the controller runtime. The generic ones carry controller-runtime's names, labels
// and buckets, so dashboards and alerts written for Go controllers work unchanged. Each Metrics owns its
// own Registry instead of prom-client's global one: tests and several managers in one process would
// otherwise collide on metric names. Other parts (webhook, sharder) register their metrics on `registry`.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, exponentialBuckets } from 'prom-client';
import type { Clock } from './clock.ts';
import type { LeaderElectionMetrics } from './leader-election.ts';
import type { Handler, HandlerResult, WorkQueue, WorkQueueMetrics } from './workqueue.ts';

export interface MetricsOptions {
  /** prom-client's process and Node.js metrics (process_cpu_seconds_total, nodejs_*...). Default true. */
  defaultMetrics?: boolean;
  /** Times reconciles; default performance.now(). */
  clock?: Pick<Clock, 'now'>;
}

/** The `result` label of controller_runtime_reconcile_total. */
export type ReconcileResult = 'success' | 'error' | 'requeue' | 'requeue_after';

const reconcileResults: readonly ReconcileResult[] = ['success', 'error', 'requeue', 'requeue_after'];

/** A WorkQueue's metrics, labelled with its controller's name. */
export interface ControllerWorkQueueMetrics extends WorkQueueMetrics {
  /**
   * Reads workqueue_unfinished_work_seconds and workqueue_longest_running_processor_seconds from `queue` at
   * each scrape (they grow while a handler runs, without events). A later queue of the same name replaces it.
   */
  scrapeUnfinishedWork(queue: Pick<WorkQueue, 'unfinishedWork'>): void;
}

export interface ReconcileMetrics {
  /** Counts one reconcile by result (and as an error if it failed) and records its duration. */
  observe(result: ReconcileResult, seconds: number): void;
  /**
   * Wraps a reconcile handler: each call counts as an active worker while it runs and is observed when it
   * ends. Thrown: error; requeueAfter > 0: requeue_after; requeueAfter <= 0: requeue; otherwise success.
   */
  instrument(handler: Handler): Handler;
}

function resultOf(outcome: HandlerResult | undefined): ReconcileResult {
  if (outcome?.requeueAfter === undefined) return 'success';
  return outcome.requeueAfter > 0 ? 'requeue_after' : 'requeue';
}

// client-go's ExponentialBuckets(10e-9, 10, 12): 10 ns to 1000 s.
const workQueueBuckets = exponentialBuckets(10e-9, 10, 12);

const reconcileTimeBuckets = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25,
  1.5, 1.75, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40, 50, 60,
];

const systemClock: Pick<Clock, 'now'> = { now: () => performance.now() };

export class Metrics {
  readonly registry = new Registry();
  readonly #clock: Pick<Clock, 'now'>;
  readonly #unfinishedWork = new Map<string, Pick<WorkQueue, 'unfinishedWork'>>();
  // controller-runtime labels workqueue metrics with both `name` (client-go's) and `controller`, same value.
  readonly #workQueue;
  readonly #reconcile;
  readonly #leaderElection;

  constructor({ defaultMetrics = true, clock = systemClock }: MetricsOptions = {}) {
    this.#clock = clock;
    const registers = [this.registry];
    const labelNames = ['name', 'controller'] as const;
    const unfinishedWork = this.#unfinishedWork;
    this.#workQueue = {
      depth: new Gauge({
        name: 'workqueue_depth',
        help: 'Current depth of workqueue',
        labelNames,
        registers,
      }),
      adds: new Counter({
        name: 'workqueue_adds_total',
        help: 'Total number of adds handled by workqueue',
        labelNames,
        registers,
      }),
      queueDuration: new Histogram({
        name: 'workqueue_queue_duration_seconds',
        help: 'How long in seconds an item stays in workqueue before being requested',
        labelNames,
        buckets: workQueueBuckets,
        registers,
      }),
      workDuration: new Histogram({
        name: 'workqueue_work_duration_seconds',
        help: 'How long in seconds processing an item from workqueue takes.',
        labelNames,
        buckets: workQueueBuckets,
        registers,
      }),
      unfinished: new Gauge({
        name: 'workqueue_unfinished_work_seconds',
        help:
          'How many seconds of work has been done that is in progress and ' +
          "hasn't been observed by work_duration. Large values indicate stuck threads. One can deduce " +
          'the number of stuck threads by observing the rate at which this increases.',
        labelNames,
        registers,
        collect() {
          for (const [name, queue] of unfinishedWork) {
            this.set({ name, controller: name }, queue.unfinishedWork().seconds);
          }
        },
      }),
      longestRunning: new Gauge({
        name: 'workqueue_longest_running_processor_seconds',
        help: 'How many seconds has the longest running processor for workqueue been running.',
        labelNames,
        registers,
        collect() {
          for (const [name, queue] of unfinishedWork) {
            this.set({ name, controller: name }, queue.unfinishedWork().longestSeconds);
          }
        },
      }),
      retries: new Counter({
        name: 'workqueue_retries_total',
        help: 'Total number of retries handled by workqueue',
        labelNames,
        registers,
      }),
    };
    this.#reconcile = {
      total: new Counter({
        name: 'controller_runtime_reconcile_total',
        help: 'Total number of reconciliations per controller',
        labelNames: ['controller', 'result'] as const,
        registers,
      }),
      errors: new Counter({
        name: 'controller_runtime_reconcile_errors_total',
        help: 'Total number of reconciliation errors per controller',
        labelNames: ['controller'] as const,
        registers,
      }),
      time: new Histogram({
        name: 'controller_runtime_reconcile_time_seconds',
        help: 'Length of time per reconciliation per controller',
        labelNames: ['controller'] as const,
        buckets: reconcileTimeBuckets,
        registers,
      }),
      maxConcurrent: new Gauge({
        name: 'controller_runtime_max_concurrent_reconciles',
        help: 'Maximum number of concurrent reconciles per controller',
        labelNames: ['controller'] as const,
        registers,
      }),
      activeWorkers: new Gauge({
        name: 'controller_runtime_active_workers',
        help: 'Number of currently used workers per controller',
        labelNames: ['controller'] as const,
        registers,
      }),
    };
    // client-go's, with its help text: the sharder's leader Lease and each shard's Lease, by Lease name.
    this.#leaderElection = new Gauge({
      name: 'leader_election_master_status',
      help:
        'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates ' +
        "master. 'name' is the string used to identify the lease. Please make sure to group by name.",
      labelNames: ['name'] as const,
      registers,
    });
    if (defaultMetrics) collectDefaultMetrics({ register: this.registry });
  }

  /** leader_election_master_status of the Lease `name`: pass them as LeaderElectorOptions.metrics. */
  leaderElectionMetrics(name: string): LeaderElectionMetrics {
    const gauge = this.#leaderElection;
    // 0 from the start: a replica that stands by reports itself as backup, not by the series' absence.
    gauge.set({ name }, 0);
    return {
      leading: (isLeader) => {
        gauge.set({ name }, isLeader ? 1 : 0);
      },
    };
  }

  /** Metrics for the WorkQueue of controller `name`: pass them as WorkQueueOptions.metrics. */
  workQueueMetrics(name: string): ControllerWorkQueueMetrics {
    const m = this.#workQueue;
    const labels = { name, controller: name };
    // Series exist from the start, so that rate() and absent() work before the first event.
    m.depth.set(labels, 0);
    m.adds.inc(labels, 0);
    m.retries.inc(labels, 0);
    m.queueDuration.zero(labels);
    m.workDuration.zero(labels);
    m.unfinished.set(labels, 0);
    m.longestRunning.set(labels, 0);
    return {
      add: () => {
        m.adds.inc(labels);
      },
      depth: (keys) => {
        m.depth.set(labels, keys);
      },
      queueDuration: (seconds) => {
        m.queueDuration.observe(labels, seconds);
      },
      workDuration: (seconds) => {
        m.workDuration.observe(labels, seconds);
      },
      retry: () => {
        m.retries.inc(labels);
      },
      scrapeUnfinishedWork: (queue) => {
        this.#unfinishedWork.set(name, queue);
      },
    };
  }

  /** Reconcile metrics of `controller`, whose queue runs `concurrency` workers. */
  reconcileMetrics(controller: string, { concurrency }: { concurrency: number }): ReconcileMetrics {
    const m = this.#reconcile;
    const clock = this.#clock;
    const labels = { controller };
    for (const result of reconcileResults) m.total.inc({ controller, result }, 0);
    m.errors.inc(labels, 0);
    m.time.zero(labels);
    m.maxConcurrent.set(labels, concurrency);
    m.activeWorkers.set(labels, 0);
    const observe = (result: ReconcileResult, seconds: number): void => {
      m.total.inc({ controller, result });
      if (result === 'error') m.errors.inc(labels);
      m.time.observe(labels, seconds);
    };
    return {
      observe,
      instrument: (handler) => async (key) => {
        m.activeWorkers.inc(labels);
        const started = clock.now();
        let result: ReconcileResult = 'error';
        try {
          const outcome = (await handler(key)) ?? undefined;
          result = resultOf(outcome);
          return outcome;
        } finally {
          m.activeWorkers.dec(labels);
          observe(result, (clock.now() - started) / 1000);
        }
      },
    };
  }
}
