// Lease-based leader election after client-go's leaderelection package: the sharder's controllers run on the
// elected replica only, and the shard library keeps a shard's own Lease with it. Every write is an update
// with the resourceVersion just read, so of two candidates writing at once exactly one wins.
import { setTimeout as sleep } from 'node:timers/promises';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
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
  /** Put on the Lease when created/acquired, and kept there (the shard Lease needs controller-rings.io/ring). */
  labels?: Record<string, string>;
  logger: Logger;
  /** The clock that stamps renewals and decides whether another holder's Lease has expired. */
  now?: () => Date;
}

/** An attempt to acquire or renew: the Lease is ours, someone else holds it, or the attempt failed. */
type Attempt = 'held' | 'taken' | 'failed';

/** Sleeps; false when `signal` aborted first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  return sleep(ms, undefined, { signal }).then(
    () => true,
    () => false,
  );
}

function expired(lease: ILease, now: Date): boolean {
  const renewed = Date.parse(lease.spec?.renewTime ?? '');
  const seconds = lease.spec?.leaseDurationSeconds ?? 0;
  return Number.isNaN(renewed) || renewed + seconds * 1000 < now.getTime();
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class LeaderElector {
  readonly #rest: RestClient;
  readonly #options: Required<Omit<LeaderElectorOptions, 'labels'>> & Pick<LeaderElectorOptions, 'labels'>;
  readonly #logger: Logger;
  readonly #path: string;
  readonly #stopping = new AbortController();
  #running: Promise<void> | undefined;
  #isLeader = false;

  constructor(rest: RestClient, options: LeaderElectorOptions) {
    this.#rest = rest;
    this.#options = {
      leaseDurationSeconds: 15,
      renewDeadlineMs: 10_000,
      retryPeriodMs: 2_000,
      now: () => new Date(),
      ...options,
    };
    this.#logger = options.logger.child({ lease: `${options.namespace}/${options.name}` });
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases/${options.name}`;
  }

  get isLeader(): boolean {
    return this.#isLeader;
  }

  /**
   * Campaigns until stop(); while leading calls lead(signal) once; signal aborts when leadership is lost or on
   * stop(). After losing leadership it campaigns again. If lead() settles while still leading, the Lease is
   * kept (and renewed) until stop() or until it is lost. An elector runs once: run() after stop() returns.
   */
  run(lead: (signal: AbortSignal) => Promise<void>): Promise<void> {
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

  async #campaign(lead: (signal: AbortSignal) => Promise<void>): Promise<void> {
    const stopping = this.#stopping.signal;
    const { retryPeriodMs } = this.#options;
    while (!stopping.aborted) {
      const startedAt = performance.now();
      const attempt = await this.#tryAcquireOrRenew(stopping, false);
      if (attempt === 'held') await this.#lead(lead, startedAt);
      // Jittered like client-go's, so that candidates do not keep colliding.
      else await pause(retryPeriodMs * (1 + 0.2 * Math.random()), stopping);
    }
  }

  /** Leads until leadership is lost or the elector stops (then releases the Lease). */
  async #lead(lead: (signal: AbortSignal) => Promise<void>, acquiredAt: number): Promise<void> {
    const stopping = this.#stopping.signal;
    this.#isLeader = true;
    this.#logger.info('became leader');
    const leading = new AbortController();
    const stopLeading = (): void => {
      leading.abort();
    };
    stopping.addEventListener('abort', stopLeading, { once: true });
    const led = stopping.aborted
      ? Promise.resolve()
      : Promise.resolve()
          .then(() => lead(leading.signal))
          .then(
            () => {
              if (!leading.signal.aborted)
                this.#logger.info('lead() returned while leading: keeping the Lease');
            },
            (error: unknown) => {
              this.#logger.error({ err: error }, 'lead() failed');
            },
          );
    const kept = await this.#renewWhileLeading(acquiredAt);
    stopping.removeEventListener('abort', stopLeading);
    if (!kept) this.#isLeader = false;
    leading.abort();
    await led;
    if (kept) {
      await this.#release();
      this.#isLeader = false;
    }
  }

  /**
   * Renews every retry period; true when the elector stopped while leading, false when leadership was lost.
   * Times (performance.now()) are taken when a write starts, as its renewTime is: the deadline is never late.
   */
  async #renewWhileLeading(acquiredAt: number): Promise<boolean> {
    const stopping = this.#stopping.signal;
    const { retryPeriodMs, renewDeadlineMs } = this.#options;
    let renewedAt = acquiredAt;
    for (;;) {
      if (!(await pause(retryPeriodMs, stopping))) return true;
      const startedAt = performance.now();
      const remainingMs = Math.max(Math.ceil(renewedAt + renewDeadlineMs - performance.now()), 0);
      const attempt = await this.#tryAcquireOrRenew(
        AbortSignal.any([stopping, AbortSignal.timeout(remainingMs)]),
        true,
      );
      if (stopping.aborted) return true;
      if (attempt === 'held') renewedAt = startedAt;
      else if (attempt === 'taken') return false;
      else if (performance.now() - renewedAt >= renewDeadlineMs) {
        this.#logger.warn({ renewDeadlineMs }, 'lost leadership: renewals failed until the renew deadline');
        return false;
      }
    }
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
          metadata: { ...lease.metadata, labels: { ...lease.metadata?.labels, ...this.#options.labels } },
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
        this.#logger.debug({ err: message(error) }, 'the Lease changed while writing it');
      } else if (!this.#stopping.signal.aborted) {
        this.#logger.warn(
          { err: message(error) },
          leading ? 'failed to renew the Lease' : 'failed to acquire the Lease',
        );
      }
      return 'failed';
    }
  }

  async #create(now: Date, signal: AbortSignal): Promise<void> {
    const { namespace, name, identity, leaseDurationSeconds, labels } = this.#options;
    const lease: ILease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { namespace, name, ...(labels === undefined ? {} : { labels }) },
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
      this.#logger.warn({ err: message(error) }, 'failed to release the Lease');
    }
  }
}
