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

  /** When the timers not fired yet are due, in order. */
  get due(): number[] {
    return [...this.#timers].map((timer) => timer.at).sort((a, b) => a - b);
  }

  /** Time passes and no timer fires: the process was paused. */
  jump(ms: number): void {
    this.#now += ms;
  }

  advance(ms: number): void {
    for (const timer of this.#dueBy(this.#now + ms)) timer.fire();
  }

  /** As advance, letting `settle` run (e.g. pending promise callbacks) after each timer fired. */
  async advanceSettling(ms: number, settle: () => Promise<void>): Promise<void> {
    for (const timer of this.#dueBy(this.#now + ms)) {
      timer.fire();
      await settle();
    }
  }

  /** The timers due by `until`, in order, each taken out as the clock reaches it; then the clock is at `until`. */
  *#dueBy(until: number): Generator<{ fire: () => void }> {
    for (;;) {
      const next = [...this.#timers].sort((a, b) => a.at - b.at)[0];
      if (next === undefined || next.at > until) break;
      this.#timers.delete(next);
      this.#now = Math.max(this.#now, next.at);
      yield next;
    }
    this.#now = Math.max(this.#now, until);
  }
}
