// Tells the ring's Events of its rebalances (controllers/ring-events.ts): a sync is one when its available
// shards differ from those of the ring's previous sync, or when it moved or drained objects (the first sync of
// a leader's term, whose previous shards are unknown, or one after a spec change). A periodic sync that changes
// nothing records nothing.
import type { RingEvents } from '../ring-events.ts';
import type { SyncObserver, SyncReport } from './reconciler.ts';

function changed(
  shards: readonly string[],
  previous: readonly string[] | undefined,
): previous is readonly string[] {
  return previous !== undefined && shards.join(',') !== previous.join(',');
}

export class RebalanceEvents implements SyncObserver {
  readonly #events: RingEvents;

  constructor(events: RingEvents) {
    this.#events = events;
  }

  started(ring: string, shards: readonly string[], previous: readonly string[] | undefined): void {
    if (changed(shards, previous)) this.#events.rebalanceStarted(ring, shards, previous);
  }

  finished(report: SyncReport): void {
    if (changed(report.shards, report.previousShards) || report.moved + report.drained > 0) {
      this.#events.rebalanceFinished(report);
    }
  }
}
