import { systemClock, type Clock } from './clock.ts';

/** Decides how long a failed key waits before its next attempt (see WorkQueue.addRateLimited). */
export interface RateLimiter {
  /** Counts one more failure of `key` and returns the milliseconds to wait before retrying it. */
  when(key: string): number;
  /** Clears the failures of `key`, e.g. once it was processed successfully. */
  forget(key: string): void;
  /** Failures counted for `key` since it was last forgotten. */
  numRequeues(key: string): number;
}

export interface ExponentialBackoffOptions {
  /** Delay after the first failure; it doubles with each further one. */
  baseMs?: number;
  /** Upper bound of the delay. */
  maxMs?: number;
}

/** Per-key exponential backoff; the defaults (5 ms doubling up to 1000 s) are client-go's item limiter's. */
export function exponentialBackoff({
  baseMs = 5,
  maxMs = 1_000_000,
}: ExponentialBackoffOptions = {}): RateLimiter {
  const failures = new Map<string, number>();
  return {
    when(key) {
      const n = failures.get(key) ?? 0;
      failures.set(key, n + 1);
      return Math.min(baseMs * 2 ** n, maxMs);
    },
    forget(key) {
      failures.delete(key);
    },
    numRequeues: (key) => failures.get(key) ?? 0,
  };
}

export interface TokenBucketOptions {
  /** Tokens added per second: the sustained rate. */
  qps: number;
  /** Tokens the bucket holds at most (it starts full): how many may go at once after a quiet spell. */
  burst: number;
  clock?: Clock;
}

/**
 * A client's request rate limit, as client-go's token bucket (rest.Config's QPS and Burst): each request takes
 * a token, and waits for one when the bucket is empty. Each caller reserves the moment its token is there, in
 * the order they came, so that waiters are spread over time at the rate rather than woken together.
 */
export class TokenBucket {
  readonly #intervalMs: number;
  readonly #burst: number;
  readonly #clock: Clock;
  /** When the last reserved token is (or was) there; one is added every #intervalMs after it. */
  #lastAt = -Infinity;

  constructor({ qps, burst, clock = systemClock }: TokenBucketOptions) {
    if (!(qps > 0) || !Number.isInteger(burst) || burst < 1)
      throw new RangeError(`a token bucket needs qps > 0 and an integer burst >= 1, not ${qps} and ${burst}`);
    this.#intervalMs = 1000 / qps;
    this.#burst = burst;
    this.#clock = clock;
  }

  /**
   * Resolves when the caller may send its request; rejects with the signal's reason if it aborts first. The
   * token an aborted caller reserved is not given back: the limiter errs towards sending less.
   */
  take(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const now = this.#clock.now();
    this.#lastAt = this.#nextTokenAt(now);
    const waitMs = this.#lastAt - now;
    if (waitMs <= 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        cancel();
        reject(signal?.reason as Error);
      };
      const cancel = this.#clock.schedule(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * Takes a token if one is there now, without waiting (client-go's passive rate limiter, as its event spam
   * filter uses): false leaves the bucket as it was.
   */
  tryTake(): boolean {
    const now = this.#clock.now();
    const at = this.#nextTokenAt(now);
    if (at > now) return false;
    this.#lastAt = at;
    return true;
  }

  /** Whether the bucket holds `burst` tokens: one that stays full may be forgotten. */
  get full(): boolean {
    return this.#lastAt + this.#intervalMs <= this.#clock.now() - (this.#burst - 1) * this.#intervalMs;
  }

  /** When the next token is there. */
  #nextTokenAt(now: number): number {
    // A full bucket holds `burst` tokens, there at now - (burst - 1) intervals ... now: an idle spell adds no more.
    return Math.max(this.#lastAt + this.#intervalMs, now - (this.#burst - 1) * this.#intervalMs);
  }
}
