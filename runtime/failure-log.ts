// Keeps a failure that repeats from flooding the log: a key whose handler keeps failing is retried with
// backoff, a candidate keeps trying to acquire a Lease while the API server is down. The first failure is
// reported at its level, the repeats at debug, with a reminder at the level while it keeps failing.
import type { Level } from 'pino';
import type { Clock } from './clock.ts';

/** How often a failure that keeps repeating is reported again at its level. */
export const defaultReminderMs = 5 * 60_000;

export class FailureLog {
  readonly #clock: Clock;
  readonly #reminderMs: number;
  /** Per failing key, when it was last reported at its level, and what failed then. */
  readonly #reported = new Map<string, { at: number; what: string }>();

  constructor(clock: Clock, reminderMs = defaultReminderMs) {
    this.#clock = clock;
    this.#reminderMs = reminderMs;
  }

  /**
   * The level to log this failure of `key` at: `level` for its first failure since it last succeeded, for a
   * failure other than the one last reported (`what`, e.g. its message), and once per reminder period while it
   * keeps failing; debug for the repeats in between.
   */
  level(key: string, level: Level, what = ''): Level {
    const now = this.#clock.now();
    const reported = this.#reported.get(key);
    if (reported !== undefined && reported.what === what && now - reported.at < this.#reminderMs)
      return 'debug';
    this.#reported.set(key, { at: now, what });
    return level;
  }

  /** `key` succeeded: its next failure is a first one again. */
  succeeded(key: string): void {
    this.#reported.delete(key);
  }
}
