// A work queue of object keys with a bounded pool of workers, after client-go's rate-limited workqueue and
// controller-runtime's controller: one key is never handled by two workers at once, which is what lets a
// shard rely on "one reconcile per object at a time".

import type { Logger } from 'pino';
import { systemClock, type Clock } from './clock.ts';
import { isExpected } from './expected-error.ts';
import { FailureLog } from './failure-log.ts';
import { exponentialBackoff, type RateLimiter } from './rate-limiter.ts';
import { isTransient } from './rest.ts';

/**
 * Hooks for a Prometheus layer, one per controller-runtime workqueue metric. Durations are in seconds.
 * workqueue_unfinished_work_seconds and workqueue_longest_running_processor_seconds grow without events:
 * read them from WorkQueue.unfinishedWork() at scrape time.
 */
export interface WorkQueueMetrics {
  /** workqueue_adds_total: a key became due (adds of a key that is already due are not counted). */
  add(): void;
  /** workqueue_depth: keys due and not yet handed to a worker. */
  depth(keys: number): void;
  /** workqueue_queue_duration_seconds: from a key becoming due to a worker taking it. */
  queueDuration(seconds: number): void;
  /** workqueue_work_duration_seconds: one handler call. */
  workDuration(seconds: number): void;
  /** workqueue_retries_total: a delayed add, as in client-go (rate-limited retries and requeueAfter). */
  retry(): void;
}

const noMetrics: WorkQueueMetrics = {
  add() {},
  depth() {},
  queueDuration() {},
  workDuration() {},
  retry() {},
};

export interface WorkQueueOptions {
  /** Delays of addRateLimited; default: exponentialBackoff(). */
  rateLimiter?: RateLimiter;
  clock?: Clock;
  metrics?: WorkQueueMetrics;
  /** How often a key that keeps failing is logged again at its level (see run()); default 5 minutes. */
  failureReminderMs?: number;
}

export interface HandlerResult {
  /** Handle the key again after this many milliseconds (0 or less: at once), e.g. when a state changes. */
  requeueAfter?: number;
}

/**
 * Handles one key. Throwing retries the key with backoff (an ExpectedError too: it is only logged at debug);
 * returning resets its backoff. (Promise<void> is listed apart so that functions declared to return it fit;
 * lint forbids void inside the union.)
 */
export type Handler = (key: string) => Promise<HandlerResult | undefined> | Promise<void>;

export interface RunOptions {
  /** Workers, i.e. handler calls running at once, each on a different key. Default 1. */
  concurrency?: number;
  /** Receives the errors thrown by the handler. */
  logger: Logger;
}

interface Workers {
  handler: Handler;
  concurrency: number;
  logger: Logger;
}

export class WorkQueue {
  readonly #rateLimiter: RateLimiter;
  readonly #clock: Clock;
  readonly #metrics: WorkQueueMetrics;
  readonly #failures: FailureLog;
  /** Keys due and not processing, in the order workers take them, with the time each became due. */
  readonly #ready = new Map<string, number>();
  /** Keys added again while processing, with the time they were added: ready once their handler returns. */
  readonly #rerun = new Map<string, number>();
  /** Keys being handled, with the time their handler started. */
  readonly #processing = new Map<string, number>();
  /** Delayed adds: when each key becomes due, and how to cancel its timer. */
  readonly #waiting = new Map<string, { at: number; cancel: () => void }>();
  readonly #drained = Promise.withResolvers<undefined>();
  #workers: Workers | undefined;
  #shuttingDown = false;

  constructor({
    rateLimiter = exponentialBackoff(),
    clock = systemClock,
    metrics = noMetrics,
    failureReminderMs,
  }: WorkQueueOptions = {}) {
    this.#rateLimiter = rateLimiter;
    this.#clock = clock;
    this.#metrics = metrics;
    this.#failures = new FailureLog(clock, failureReminderMs);
  }

  /** Makes `key` due. A key already due is not added twice; a key being processed is handled again after. */
  add(key: string): void {
    if (this.#shuttingDown || this.#ready.has(key) || this.#rerun.has(key)) return;
    (this.#processing.has(key) ? this.#rerun : this.#ready).set(key, this.#clock.now());
    this.#metrics.add();
    this.#metrics.depth(this.#ready.size + this.#rerun.size);
    this.#dispatch();
  }

  /** Adds `key` after `ms` milliseconds. If the key is already waiting, the earlier of the two times wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    this.#metrics.retry();
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = this.#clock.now() + ms;
    const waiting = this.#waiting.get(key);
    if (waiting && waiting.at <= at) return;
    waiting?.cancel();
    const cancel = this.#clock.schedule(() => {
      this.#waiting.delete(key);
      this.add(key);
    }, ms);
    this.#waiting.set(key, { at, cancel });
  }

  /** Adds `key` after the rate limiter's delay, which grows with each call until forget(key). */
  addRateLimited(key: string): void {
    this.addAfter(key, this.#rateLimiter.when(key));
  }

  /** Resets the backoff of `key`; its next failure is logged as a first one. */
  forget(key: string): void {
    this.#rateLimiter.forget(key);
    this.#failures.succeeded(key);
  }

  /** Rate-limited adds of `key` since it was last forgotten. */
  numRequeues(key: string): number {
    return this.#rateLimiter.numRequeues(key);
  }

  /** Time spent so far in the handler calls still running, summed and the longest, in seconds. */
  unfinishedWork(): { seconds: number; longestSeconds: number } {
    const now = this.#clock.now();
    let seconds = 0;
    let longestSeconds = 0;
    for (const started of this.#processing.values()) {
      const elapsed = (now - started) / 1000;
      seconds += elapsed;
      longestSeconds = Math.max(longestSeconds, elapsed);
    }
    return { seconds, longestSeconds };
  }

  /**
   * Starts `concurrency` workers that call `handler` for due keys until shutDown(). After a handler returns,
   * the key's backoff is reset and its requeueAfter honoured; after it throws, the error is logged and the
   * key is added rate-limited. The log line's level: debug for an ExpectedError; for other errors warn if
   * transient (isTransient), else error, but only for a key's first failure since it last succeeded and then
   * once per failureReminderMs while it keeps failing: the retries in between are at debug, so that a key
   * retried with backoff does not repeat its error at every retry.
   */
  run(handler: Handler, { concurrency = 1, logger }: RunOptions): void {
    if (this.#workers) throw new Error('WorkQueue.run was called twice');
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    }
    this.#workers = { handler, concurrency, logger };
    this.#dispatch();
  }

  /**
   * Stops handing out keys and drops the due and delayed ones (their timers are cleared); resolves once the
   * handler calls in flight have returned. Adds after this are ignored.
   */
  shutDown(): Promise<void> {
    this.#shuttingDown = true;
    for (const { cancel } of this.#waiting.values()) cancel();
    this.#waiting.clear();
    this.#ready.clear();
    this.#rerun.clear();
    this.#metrics.depth(0);
    this.#resolveIfDrained();
    return this.#drained.promise;
  }

  #dispatch(): void {
    const workers = this.#workers;
    if (!workers) return;
    while (this.#processing.size < workers.concurrency) {
      const next = this.#ready.entries().next();
      if (next.done) return;
      const [key, dueSince] = next.value;
      this.#ready.delete(key);
      const now = this.#clock.now();
      this.#processing.set(key, now);
      this.#metrics.depth(this.#ready.size + this.#rerun.size);
      this.#metrics.queueDuration((now - dueSince) / 1000);
      void this.#process(key, now, workers);
    }
  }

  async #process(key: string, started: number, { handler, logger }: Workers): Promise<void> {
    try {
      // Yield first, so that add() never runs a handler inside its own caller.
      await Promise.resolve();
      const result = await handler(key);
      this.forget(key);
      if (result?.requeueAfter !== undefined) this.addAfter(key, result.requeueAfter);
    } catch (err) {
      const retries = this.numRequeues(key);
      const severity = isTransient(err) ? 'warn' : 'error';
      // A change of severity (a transient failure turned genuine) is reported at once.
      const level = isExpected(err) ? 'debug' : this.#failures.level(key, severity, severity);
      logger[level]({ err, key, retries }, 'handler failed, retrying with backoff');
      this.addRateLimited(key);
    } finally {
      this.#metrics.workDuration((this.#clock.now() - started) / 1000);
      this.#processing.delete(key);
      const readdedAt = this.#rerun.get(key);
      if (readdedAt !== undefined) {
        this.#rerun.delete(key);
        this.#ready.set(key, readdedAt);
      }
      this.#dispatch();
      this.#resolveIfDrained();
    }
  }

  #resolveIfDrained(): void {
    if (this.#shuttingDown && this.#processing.size === 0) this.#drained.resolve(undefined);
  }
}
