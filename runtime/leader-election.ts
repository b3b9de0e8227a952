// Lease-based leader election after client-go's leaderelection package: the sharder's controllers run on the
// elected replica only, and the shard library keeps a shard's own Lease with it. Every write is an update
// with the resourceVersion just read, so of two candidates writing at once exactly one wins.
//
// Holding the Lease is not enough to act: a process paused (SIGSTOP, a long GC, a frozen VM) wakes up still
// believing it leads while another candidate has taken over. Each term therefore has a fence: leadership is
// certain only while the last successful renewal's start plus the renew deadline is ahead on the monotonic
// clock, and once that is found false the term is over. Writers check the fence right before each write
// (runtime/fence.ts), so a paused process finds the deadline passed when it resumes, before any timer fires.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { systemClock, type Clock } from './clock.ts';
import { withElectorLabels } from './elector-labels.ts';
import { FailureLog } from './failure-log.ts';
import type { Logger } from './logger.ts';
import { microTime } from './micro-time.ts';
import { isConflict, isNotFound, type RestClient } from './rest.ts';

export interface LeaderElectorOptions {
  namespace: string;
  name: string;
  identity: string;
  /** Default 15. */
  leaseDurationSeconds?: number;
  /** Default 10_000: leadership is given up when renewals fail this long. */
  renewDeadlineMs?: number;
  /** Default 2_000. */
  retryPeriodMs?: number;
  /**
   * Put on the Lease when created/acquired, and kept there (the shard Lease needs controller-rings.io/ring);
   * those an earlier holder put and these leave out are removed (runtime/elector-labels.ts).
   */
  labels?: Record<string, string>;
  logger: Logger;
  /** The wall clock that stamps renewals and decides whether another holder's Lease has expired. */
  now?: () => Date;
  /** The monotonic clock and timers behind the renew deadline, the fence and the retry periods. */
  clock?: Clock;
  /** Told when a term starts and ends: client-go's leader_election_master_status (runtime/metrics.ts). */
  metrics?: LeaderElectionMetrics;
}

/** What the elector reports: whether it is in a term (holds the Lease as leader) now. */
export interface LeaderElectionMetrics {
  leading(isLeader: boolean): void;
}

/**
 * Whether a term's leadership is certain now: what a writer checks right before each write. A term's fence
 * never becomes certain again once it was found uncertain, and it is uncertain when no term runs.
 */
export interface Fence {
  /**
   * True while the term leads, has not been lost, and the monotonic clock is before its last successful
   * renewal's start (when its renewTime was stamped) plus the renew deadline. Reading it past the deadline
   * ends the term: lead's signal and `lost` abort at once.
   */
  readonly certain: boolean;
  /** Aborts when the term's leadership is lost (deadline passed, or the Lease taken); not on a graceful stop. */
  readonly lost: AbortSignal;
  /** Why the fence is not certain, for errors and logs. */
  readonly reason: string;
}

/** The fence outside any term: never certain. */
const noTerm: Fence = { certain: false, lost: AbortSignal.abort(), reason: 'not leading' };

/** One period of leadership, from the acquisition to its loss or release. */
class Term implements Fence {
  readonly #clock: Clock;
  readonly #renewDeadlineMs: number;
  readonly #lost = new AbortController();
  #renewedAt: number;
  #ended = false;
  #reason = '';

  constructor(clock: Clock, renewDeadlineMs: number, acquiredAt: number) {
    this.#clock = clock;
    this.#renewDeadlineMs = renewDeadlineMs;
    this.#renewedAt = acquiredAt;
  }

  get certain(): boolean {
    return this.check();
  }

  /** Fence.certain, as a call (a property read twice looks the same to the type checker). */
  check(): boolean {
    if (this.#ended || this.#lost.signal.aborted) return false;
    if (this.#clock.now() < this.#renewedAt + this.#renewDeadlineMs) return true;
    this.lose(`the renew deadline (${this.#renewDeadlineMs} ms) passed since the last successful renewal`);
    return false;
  }

  get lost(): AbortSignal {
    return this.#lost.signal;
  }

  get reason(): string {
    return this.#ended && !this.#lost.signal.aborted ? 'the leadership term ended' : this.#reason;
  }

  /** Milliseconds left until the deadline (0 when passed). */
  get remainingMs(): number {
    return Math.max(Math.ceil(this.#renewedAt + this.#renewDeadlineMs - this.#clock.now()), 0);
  }

  /** A renewal that started at `startedAt` (monotonic) succeeded; a lost term stays lost. */
  renewed(startedAt: number): void {
    if (!this.#lost.signal.aborted) this.#renewedAt = Math.max(this.#renewedAt, startedAt);
  }

  lose(reason: string): void {
    if (this.#lost.signal.aborted || this.#ended) return;
    this.#reason = `leadership lost: ${reason}`;
    this.#lost.abort(new Error(this.#reason));
  }

  /** Released or lost, and lead() has settled: nothing may be written for this term any more. */
  end(): void {
    this.#ended = true;
  }
}

/** An attempt to acquire or renew: the Lease is ours, someone else holds it, or the attempt failed. */
type Attempt = 'held' | 'taken' | 'failed';

/** Sleeps on `clock`; false when `signal` aborted first. */
function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const aborted = (): void => {
      cancel();
      resolve(false);
    };
    const cancel = clock.schedule(() => {
      signal.removeEventListener('abort', aborted);
      resolve(true);
    }, ms);
    signal.addEventListener('abort', aborted, { once: true });
  });
}

/** A signal that aborts after `ms` on `clock`; call cancel() once it is no longer needed. */
function timeout(clock: Clock, ms: number): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const cancel = clock.schedule(() => {
    controller.abort(new Error(`timed out after ${ms} ms`));
  }, ms);
  return { signal: controller.signal, cancel };
}

function expired(lease: ILease, now: Date): boolean {
  const renewed = Date.parse(lease.spec?.renewTime ?? '');
  const seconds = lease.spec?.leaseDurationSeconds ?? 0;
  return Number.isNaN(renewed) || renewed + seconds * 1000 < now.getTime();
}

export class LeaderElector {
  readonly #rest: RestClient;
  readonly #options: Required<Omit<LeaderElectorOptions, 'labels' | 'metrics'>> &
    Pick<LeaderElectorOptions, 'labels' | 'metrics'>;
  readonly #logger: Logger;
  readonly #path: string;
  readonly #clock: Clock;
  readonly #stopping = new AbortController();
  /** Failed attempts to acquire, logged at warn the first time and then now and again. */
  readonly #acquireFailures: FailureLog;
  #running: Promise<void> | undefined;
  #isLeader = false;
  #term: Term | undefined;

  constructor(rest: RestClient, options: LeaderElectorOptions) {
    this.#rest = rest;
    this.#options = {
      leaseDurationSeconds: 15,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      now: () => new Date(),
      clock: systemClock,
      ...options,
    };
    this.#clock = this.#options.clock;
    this.#acquireFailures = new FailureLog(this.#clock);
    this.#logger = options.logger.child({ lease: `${options.namespace}/${options.name}` });
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases/${options.name}`;
  }

  /** Whether this elector is in a term (from acquiring the Lease until losing or releasing it). */
  get isLeader(): boolean {
    return this.#isLeader;
  }

  /** The current term's fence; outside a term one that is never certain. */
  get fence(): Fence {
    return this.#term ?? noTerm;
  }

  /**
   * Campaigns until stop(); while leading calls lead(signal, fence) once per term; signal aborts when
   * leadership is lost or on stop(), fence tells writers whether leadership is still certain (check it right
   * before each write). After losing leadership it campaigns again. If lead() settles while still leading, the
   * Lease is kept (and renewed) until stop() or until it is lost. An elector runs once: run() after stop()
   * returns.
   */
  run(lead: (signal: AbortSignal, fence: Fence) => Promise<void>): Promise<void> {
    if (this.#running !== undefined) throw new Error('the leader elector is already running');
    this.#running = this.#campaign(lead);
    return this.#running;
  }

  /**
   * Stops campaigning; if leading: aborts lead's signal, waits for lead() to settle, then releases the Lease
   * (holderIdentity cleared, as client-go's ReleaseOnCancel), resolves when done.
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#running;
  }

  async #campaign(lead: (signal: AbortSignal, fence: Fence) => Promise<void>): Promise<void> {
    const stopping = this.#stopping.signal;
    const { retryPeriodMs } = this.#options;
    while (!stopping.aborted) {
      const startedAt = this.#clock.now();
      const attempt = await this.#tryAcquireOrRenew(stopping, false);
      if (attempt !== 'failed') this.#acquireFailures.succeeded('acquire');
      if (attempt === 'held') await this.#lead(lead, startedAt);
      // Jittered like client-go's, so that candidates do not keep colliding.
      else await pause(this.#clock, retryPeriodMs * (1 + 0.2 * Math.random()), stopping);
    }
  }

  /** Leads until leadership is lost or the elector stops (then releases the Lease). */
  async #lead(lead: (signal: AbortSignal, fence: Fence) => Promise<void>, acquiredAt: number): Promise<void> {
    const stopping = this.#stopping.signal;
    const term = new Term(this.#clock, this.#options.renewDeadlineMs, acquiredAt);
    this.#term = term;
    this.#setLeader(true);
    this.#logger.info('became leader');
    const leading = new AbortController();
    const stopLeading = (): void => {
      leading.abort();
    };
    // A write that finds the deadline passed loses the term at once: lead's signal follows without waiting
    // for the renewal loop to wake up.
    const ended = AbortSignal.any([stopping, term.lost]);
    ended.addEventListener('abort', stopLeading, { once: true });
    const led = stopping.aborted
      ? Promise.resolve()
      : Promise.resolve()
          .then(() => lead(leading.signal, term))
          .then(
            () => {
              if (!leading.signal.aborted)
                this.#logger.info('lead() returned while leading: keeping the Lease');
            },
            (error: unknown) => {
              this.#logger.error({ err: error }, 'lead() failed');
            },
          );
    const kept = await this.#renewWhileLeading(term, ended);
    ended.removeEventListener('abort', stopLeading);
    if (!kept) {
      term.end();
      this.#setLeader(false);
    }
    leading.abort();
    await led;
    if (kept) await this.#release();
    term.end();
    this.#term = undefined;
    this.#setLeader(false);
  }

  #setLeader(isLeader: boolean): void {
    if (this.#isLeader === isLeader) return;
    this.#isLeader = isLeader;
    this.#options.metrics?.leading(isLeader);
  }

  /**
   * Renews every retry period; true when the elector stopped while leading, false when leadership was lost.
   * Times are the monotonic clock's, taken when an attempt starts, as its renewTime is: the deadline is never
   * late. A timer that fires late (the process was paused) finds the deadline passed and renews no more.
   * `wake` (stopping or the term lost) ends a wait early: a writer that found the deadline passed ended the term.
   */
  async #renewWhileLeading(term: Term, wake: AbortSignal): Promise<boolean> {
    const stopping = this.#stopping.signal;
    const { retryPeriodMs, renewDeadlineMs } = this.#options;
    // A call rather than a property read: the type checker would take it as unchanged across the awaits.
    const stopped = (): boolean => stopping.aborted;
    for (;;) {
      await pause(this.#clock, retryPeriodMs, wake);
      if (stopped()) return true;
      if (!term.check()) break;
      const startedAt = this.#clock.now();
      const deadline = timeout(this.#clock, term.remainingMs);
      const attempt = await this.#tryAcquireOrRenew(AbortSignal.any([stopping, deadline.signal]), true);
      deadline.cancel();
      if (stopped()) return true;
      if (attempt === 'taken') {
        term.lose('the Lease has another holder');
        return false;
      }
      if (attempt === 'held') term.renewed(startedAt);
      // Also after a successful renewal: one that started before a pause and completes after it is too late.
      if (!term.check()) break;
    }
    this.#logger.warn({ renewDeadlineMs }, term.reason);
    return false;
  }

  /**
   * Reads the Lease and writes it as ours if it is free, expired or already ours. While leading, any other
   * holder means leadership is lost, even with an expired Lease: that holder may have acted as leader.
   */
  async #tryAcquireOrRenew(signal: AbortSignal, leading: boolean): Promise<Attempt> {
    const { identity, leaseDurationSeconds } = this.#options;
    const now = this.#options.now();
    try {
      const lease = await this.#rest.request<ILease>({ path: this.#path, signal }).catch((error: unknown) => {
        if (isNotFound(error)) return undefined;
        throw error;
      });
      if (lease === undefined) {
        await this.#create(now, signal);
        return 'held';
      }
      const spec = lease.spec ?? {};
      const holder = spec.holderIdentity ?? '';
      const ours = holder === identity;
      if (!ours && (leading || (holder !== '' && !expired(lease, now)))) {
        if (leading) this.#logger.warn({ holder }, 'lost leadership: the Lease has another holder');
        return 'taken';
      }
      await this.#rest.request<ILease>({
        method: 'PUT',
        path: this.#path,
        signal,
        body: {
          ...lease,
          metadata:
            this.#options.labels === undefined
              ? (lease.metadata ?? {})
              : withElectorLabels(lease.metadata ?? {}, this.#options.labels),
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds,
            acquireTime: ours ? spec.acquireTime : microTime(now),
            renewTime: microTime(now),
            leaseTransitions: (spec.leaseTransitions ?? 0) + (ours ? 0 : 1),
          },
        },
      });
      return 'held';
    } catch (error) {
      if (isConflict(error)) {
        // Another write came first (isAlreadyExists is a conflict too): the next attempt reads who won.
        this.#logger.debug({ err: error }, 'the Lease changed while writing it');
      } else if (leading) {
        // A few at most: the renew deadline ends the term.
        if (!this.#stopping.signal.aborted) this.#logger.warn({ err: error }, 'failed to renew the Lease');
      } else if (!this.#stopping.signal.aborted) {
        // A candidate retries every retry period for as long as the API server fails: not a line each time.
        const level = this.#acquireFailures.level('acquire', 'warn');
        this.#logger[level]({ err: error }, 'failed to acquire the Lease');
      }
      return 'failed';
    }
  }

  async #create(now: Date, signal: AbortSignal): Promise<void> {
    const { namespace, name, identity, leaseDurationSeconds, labels } = this.#options;
    const lease: ILease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: labels === undefined ? { namespace, name } : withElectorLabels({ namespace, name }, labels),
      spec: {
        holderIdentity: identity,
        leaseDurationSeconds,
        acquireTime: microTime(now),
        renewTime: microTime(now),
        leaseTransitions: 0,
      },
    };
    await this.#rest.request({
      method: 'POST',
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
      body: lease,
      signal,
    });
  }

  /**
   * Clears the holder, so that another candidate takes over without waiting for the Lease to expire. A renewal
   * aborted by stop() may still have reached the API server after the Lease was read: a conflict means reading
   * it again, not giving up.
   */
  async #release(): Promise<void> {
    const { identity, renewDeadlineMs } = this.#options;
    const signal = AbortSignal.timeout(Math.ceil(renewDeadlineMs));
    try {
      for (;;) {
        const lease = await this.#rest.request<ILease>({ path: this.#path, signal });
        if (lease.spec?.holderIdentity !== identity) return;
        const now = microTime(this.#options.now());
        try {
          await this.#rest.request<ILease>({
            method: 'PUT',
            path: this.#path,
            signal,
            body: {
              ...lease,
              spec: {
                ...lease.spec,
                holderIdentity: '',
                leaseDurationSeconds: 1,
                acquireTime: now,
                renewTime: now,
              },
            },
          });
          this.#logger.info('released the Lease');
          return;
        } catch (error) {
          if (!isConflict(error)) throw error;
        }
      }
    } catch (error) {
      this.#logger.warn({ err: error }, 'failed to release the Lease');
    }
  }
}
