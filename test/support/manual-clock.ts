// A Clock (runtime/clock.ts) whose time moves only when a test says: `advance` fires the timers due by then, in
// order of their due time.
import type { Clock } from '../../runtime/clock.ts';

export class ManualClock implements Clock {
  #now: number;
  readonly #timers = new Set<{ at: number; fire: () => void }>();

  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  schedule(fire: () => void, ms: number): () => void {
    const timer = { at: this.#now + ms, fire };
    this.#timers.add(timer);
    return () => this.#timers.delete(timer);
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.#timers.size;
  }

  advance(ms: number): void {
    const until = this.#now + ms;
    for (;;) {
      const next = [...this.#timers].sort((a, b) => a.at - b.at)[0];
      if (next === undefined || next.at > until) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      next.fire();
    }
    this.#now = until;
  }
}
