// Tells once about each shard Lease left out of a ring (a log line and an Event of the ring), not at every
// reconcile: the ring controller reconciles on every Lease renewal. What was told lives as long as the leader's
// term: a new leader tells again, once (the recorder combines and rate-limits the Events).
import type { Logger } from '../../runtime/logger.ts';
import type { LeftOutLease, LeftOutReason } from '../../sharding/membership.ts';
import type { RingEvents } from '../ring-events.ts';

export class LeftOutLeaseLog {
  readonly #logger: Logger;
  readonly #events: RingEvents | undefined;
  /** Per ring, the Leases (namespace/name) last reported as left out, with their reasons. */
  readonly #reported = new Map<string, Map<string, LeftOutReason>>();

  constructor(logger: Logger, events?: RingEvents) {
    this.#logger = logger;
    this.#events = events;
  }

  /**
   * Logs the Leases of `ring` newly left out, or left out for another reason than before. Those in trusted
   * namespaces (a shard someone misconfigured) at warn; those in untrusted namespaces, which anyone who may
   * create a Lease there can add, at info.
   */
  report(ring: string, leftOut: readonly LeftOutLease[]): void {
    const previous = this.#reported.get(ring);
    const current = new Map<string, LeftOutReason>();
    for (const { namespace, name, reason, message } of leftOut) {
      const lease = `${namespace}/${name}`;
      current.set(lease, reason);
      if (previous?.get(lease) === reason) continue;
      const fields = { ring, lease, reason, detail: message };
      if (reason === 'UntrustedNamespace') this.#logger.info(fields, 'shard lease left out of the ring');
      else this.#logger.warn(fields, 'shard lease left out of the ring');
      this.#events?.leaseIgnored(ring, { namespace, name, reason, message });
    }
    if (current.size === 0) this.#reported.delete(ring);
    else this.#reported.set(ring, current);
  }

  /** The ring is gone: a ring created later under its name reports its Leases anew. */
  forget(ring: string): void {
    this.#reported.delete(ring);
  }
}
