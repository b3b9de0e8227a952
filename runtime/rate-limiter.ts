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
