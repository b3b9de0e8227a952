// A controller: a reconciler behind a work queue, with controller-runtime's metrics. Sources (informer event
// handlers, timers) only enqueue keys; the queue guarantees one reconcile per key at a time.
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import { WorkQueue, type HandlerResult } from './workqueue.ts';

export interface Reconciler {
  reconcile(key: string): Promise<HandlerResult | undefined>;
}

export interface ControllerOptions {
  name: string;
  reconciler: Reconciler;
  /** Keys reconciled at once. Default 1. */
  concurrency?: number;
  /** The controller binds `controller: name` itself: pass a logger without that field. */
  logger: Logger;
  metrics?: Metrics;
}

export class Controller {
  readonly name: string;
  /** The logger given, with `controller: name`: its reconciler's logger too. */
  readonly logger: Logger;
  readonly #queue: WorkQueue;
  readonly #options: ControllerOptions;

  constructor(options: ControllerOptions) {
    this.name = options.name;
    this.logger = options.logger.child({ controller: options.name });
    this.#options = options;
    const queueMetrics = options.metrics?.workQueueMetrics(options.name);
    this.#queue = new WorkQueue(queueMetrics === undefined ? {} : { metrics: queueMetrics });
    queueMetrics?.scrapeUnfinishedWork(this.#queue);
  }

  enqueue(key: string): void {
    this.#queue.add(key);
  }

  enqueueAfter(key: string, ms: number): void {
    this.#queue.addAfter(key, ms);
  }

  start(): void {
    const { reconciler, metrics, name } = this.#options;
    const concurrency = this.#options.concurrency ?? 1;
    const reconcile = (key: string): Promise<HandlerResult | undefined> => reconciler.reconcile(key);
    const handler = metrics?.reconcileMetrics(name, { concurrency }).instrument(reconcile) ?? reconcile;
    this.#queue.run(handler, { concurrency, logger: this.logger });
  }

  /** Stops taking keys and resolves once the reconciles in flight have finished. */
  stop(): Promise<void> {
    return this.#queue.shutDown();
  }
}
