// The sharder's own Prometheus metrics, beside the controller-runtime ones of its controllers (docs/metrics.md).
// The ring gauges are computed at each scrape from this replica's informer caches (rings and shard Leases,
// through the same ringMembership as the controllers), so every replica reports them and nothing is kept per
// object or per Lease between scrapes. The sync's metrics are told by the sync, which runs on the leader; the
// webhook's by every replica. Every series of a ring goes at the first scrape after the ring is gone.
import { Counter, Gauge, Histogram, type LabelValues, type Registry } from 'prom-client';
import { ringLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import type { ShardState } from '../../sharding/lease.ts';
import {
  ringMembership,
  type LeftOutReason,
  type RingLease,
  type RingMembership,
} from '../../sharding/membership.ts';
import type { SyncObserver } from '../../controllers/sync/reconciler.ts';
import type { WebhookMetrics } from '../../webhook/server.ts';

export interface SharderMetricsSources {
  /** The rings in this replica's cache. */
  rings(): Iterable<ControllerRing>;
  /** The shard Leases in this replica's cache. */
  leases(): Iterable<RingLease>;
  /** Whether this replica runs the controllers now: the last sync's unassigned objects are the leader's. */
  leading(): boolean;
  /** The unassigned objects the leader's watches hold, per ring that assigns by watch (none elsewhere). */
  assignmentWatches?(): Iterable<[ring: string, objects: number]>;
  /** The wall clock the shard states are computed at; default new Date(). */
  now?: () => Date;
}

export interface SharderMetrics {
  webhook: WebhookMetrics;
  sync: SyncObserver;
}

// Records spelling out every state and reason: a new one in sharding/ fails the type check until it is here.
const noShards: Record<ShardState, number> = { ready: 0, expired: 0, uncertain: 0, dead: 0, orphaned: 0 };
const noIgnoredLeases: Record<LeftOutReason, number> = {
  UntrustedNamespace: 0,
  InvalidName: 0,
  DuplicateName: 0,
};

// From a webhook-sized 10 ms to a sync of a large ring over many pages.
const syncDurationBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

type RingLabels<T extends string> = LabelValues<T> & { ring: string };

/**
 * The label sets one metric has series for, by ring: prom-client removes a series by its exact labels only,
 * so those of a deleted ring must be known to be removed.
 */
class RingSeries<T extends string> {
  readonly #metric: { remove(labels: LabelValues<T>): void };
  /** Gives a series its first value (0), for ensure(). */
  readonly #create: (labels: RingLabels<T>) => void;
  readonly #byRing = new Map<string, Map<string, RingLabels<T>>>();

  constructor(metric: { remove(labels: LabelValues<T>): void }, create: (labels: RingLabels<T>) => void) {
    this.#metric = metric;
    this.#create = create;
  }

  /** Notes a series that was just written. */
  add(labels: RingLabels<T>): void {
    this.#note(labels);
  }

  /** Creates the series with `labels` (at 0) unless it exists. */
  ensure(labels: RingLabels<T>): void {
    if (this.#note(labels)) this.#create(labels);
  }

  /** Removes the series of every ring not in `rings`. */
  retain(rings: ReadonlySet<string>): void {
    for (const [ring, sets] of this.#byRing) {
      if (rings.has(ring)) continue;
      for (const labels of sets.values()) this.#metric.remove(labels);
      this.#byRing.delete(ring);
    }
  }

  /** True when the series is new to it. */
  #note(labels: RingLabels<T>): boolean {
    let sets = this.#byRing.get(labels.ring);
    if (sets === undefined) {
      sets = new Map();
      this.#byRing.set(labels.ring, sets);
    }
    const key = Object.values(labels).join('\n');
    if (sets.has(key)) return false;
    sets.set(key, labels);
    return true;
  }
}

function ringName(ring: ControllerRing): string {
  return ring.metadata?.name ?? '';
}

export function sharderMetrics(registry: Registry, sources: SharderMetricsSources): SharderMetrics {
  const registers = [registry];
  const now = sources.now ?? (() => new Date());
  const ringNames = (): Set<string> => new Set([...sources.rings()].map(ringName));
  // Each ring's membership from its own Leases only (ringMembership ignores the others): one pass over all.
  const membershipByRing = function* (): Generator<[string, RingMembership]> {
    const byRing = new Map<string, RingLease[]>();
    for (const lease of sources.leases()) {
      const ring = lease.metadata?.labels?.[ringLabel];
      if (ring === undefined) continue;
      const leases = byRing.get(ring);
      if (leases === undefined) byRing.set(ring, [lease]);
      else leases.push(lease);
    }
    const at = now();
    for (const ring of sources.rings()) {
      yield [ringName(ring), ringMembership(byRing.get(ringName(ring)) ?? [], ring, at)];
    }
  };

  // Computed at scrape: reset, then one series per ring (and state, reason) in the cache.
  new Gauge({
    name: 'controller_rings_ring_shards',
    help: 'Member shards of the ring by state (ready, expired, uncertain, dead, orphaned), as this replica sees them',
    labelNames: ['ring', 'state'] as const,
    registers,
    collect() {
      this.reset();
      for (const [ring, { members }] of membershipByRing()) {
        const counts = { ...noShards };
        for (const member of members) counts[member.state]++;
        for (const [state, count] of Object.entries(counts)) this.set({ ring, state }, count);
      }
    },
  });
  new Gauge({
    name: 'controller_rings_ring_ignored_leases',
    help: 'Shard Leases labelled for the ring that are not its shards, by reason (UntrustedNamespace, InvalidName, DuplicateName)',
    labelNames: ['ring', 'reason'] as const,
    registers,
    collect() {
      this.reset();
      for (const [ring, { leftOut }] of membershipByRing()) {
        const counts = { ...noIgnoredLeases };
        for (const lease of leftOut) counts[lease.reason]++;
        for (const [reason, count] of Object.entries(counts)) this.set({ ring, reason }, count);
      }
    },
  });
  new Gauge({
    name: 'controller_rings_ring_generation',
    help: 'metadata.generation of the ring: the version of its spec',
    labelNames: ['ring'] as const,
    registers,
    collect() {
      this.reset();
      for (const ring of sources.rings()) this.set({ ring: ringName(ring) }, ring.metadata?.generation ?? 0);
    },
  });
  new Gauge({
    name: 'controller_rings_ring_observed_generation',
    help: 'status.observedGeneration of the ring: the generation the sharder last wrote its status for (0 before)',
    labelNames: ['ring'] as const,
    registers,
    collect() {
      this.reset();
      for (const ring of sources.rings())
        this.set({ ring: ringName(ring) }, ring.status?.observedGeneration ?? 0);
    },
  });
  new Gauge({
    name: 'controller_rings_ring_ready',
    help: 'Whether the Ready condition of the ring is True (1) or not (0)',
    labelNames: ['ring'] as const,
    registers,
    collect() {
      this.reset();
      for (const ring of sources.rings()) {
        const ready = ring.status?.conditions?.find((condition) => condition.type === 'Ready');
        this.set({ ring: ringName(ring) }, ready?.status === 'True' ? 1 : 0);
      }
    },
  });

  new Gauge({
    name: 'controller_rings_assignment_watch_objects',
    help: "Objects without a shard label the leader holds for a ring that assigns by watch (spec.assignment: Watch), in its watches of the ring's resources",
    labelNames: ['ring'] as const,
    registers,
    collect() {
      this.reset();
      for (const [ring, objects] of sources.assignmentWatches?.() ?? []) this.set({ ring }, objects);
    },
  });

  // Told by the webhook: removed with their ring.
  const requests: Counter<'ring' | 'result' | 'code'> = new Counter({
    name: 'controller_rings_webhook_requests_total',
    help: 'Admission webhook calls by ring, result (assigned, unassigned, error, invalid, refused) and HTTP status code',
    labelNames: ['ring', 'result', 'code'] as const,
    registers,
    collect: () => {
      requestSeries.retain(ringNames());
    },
  });
  const requestSeries = new RingSeries(requests, (labels) => {
    requests.inc(labels, 0);
  });
  const latency: Histogram<'ring'> = new Histogram({
    name: 'controller_rings_webhook_request_duration_seconds',
    help: "Time to answer an admission webhook call: from its request's headers read to its answer handed to the socket, the wait for its body and the other work of the event loop in between included",
    labelNames: ['ring'] as const,
    buckets: [0.0001, 0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers,
    collect: () => {
      latencySeries.retain(ringNames());
    },
  });
  const latencySeries = new RingSeries(latency, (labels) => {
    latency.zero(labels);
  });

  // Told by the sync, on the leader. Every ring in the cache has them from the start (0), so that rate() and
  // increase() see its first sync; on a replica that does not lead they stay as they were.
  const syncs: Counter<'ring' | 'result'> = new Counter({
    name: 'controller_rings_syncs_total',
    help: 'Syncs of the ring by result: success (it went through) or error (it ended early and is retried)',
    labelNames: ['ring', 'result'] as const,
    registers,
    collect: () => {
      for (const ring of keep(syncSeries)) {
        for (const result of ['success', 'error']) syncSeries.ensure({ ring, result });
      }
    },
  });
  const syncSeries = new RingSeries(syncs, (labels) => {
    syncs.inc(labels, 0);
  });
  const duration: Histogram<'ring'> = new Histogram({
    name: 'controller_rings_sync_duration_seconds',
    help: 'Time a sync of the ring took, from its first list to its last patch (also when it ended early)',
    labelNames: ['ring'] as const,
    buckets: syncDurationBuckets,
    registers,
    collect: () => {
      for (const ring of keep(durationSeries)) durationSeries.ensure({ ring });
    },
  });
  const durationSeries = new RingSeries(duration, (labels) => {
    duration.zero(labels);
  });
  const examined: Counter<'ring'> = new Counter({
    name: 'controller_rings_sync_objects_examined_total',
    help: 'Objects of the ring (in its namespaces, with a hash key) the syncs looked at',
    labelNames: ['ring'] as const,
    registers,
    collect: () => {
      for (const ring of keep(examinedSeries)) examinedSeries.ensure({ ring });
    },
  });
  const examinedSeries = new RingSeries(examined, (labels) => {
    examined.inc(labels, 0);
  });
  const actions: Counter<'ring' | 'action'> = new Counter({
    name: 'controller_rings_sync_actions_total',
    help: 'Objects the sync moved (from an unavailable shard) or drained (from a live one), by ring',
    labelNames: ['ring', 'action'] as const,
    registers,
    collect: () => {
      for (const ring of keep(actionSeries)) {
        for (const action of ['move', 'drain']) actionSeries.ensure({ ring, action });
      }
    },
  });
  const actionSeries = new RingSeries(actions, (labels) => {
    actions.inc(labels, 0);
  });
  // Only the leader's: a replica that stopped leading would otherwise report its last sync's count forever.
  const unassigned: Gauge<'ring'> = new Gauge({
    name: 'controller_rings_sync_unassigned_objects',
    help: 'Objects the last sync of the ring that went through left without a shard: the ring had no available shard',
    labelNames: ['ring'] as const,
    registers,
    collect: () => {
      unassignedSeries.retain(sources.leading() ? ringNames() : new Set());
    },
  });
  const unassignedSeries = new RingSeries(unassigned, (labels) => {
    unassigned.set(labels, 0);
  });
  // The leader's too, as unassigned.
  const unresolved: Gauge<'ring'> = new Gauge({
    name: 'controller_rings_sync_unresolved_objects',
    help: "Objects below the first level of a ring's chains of controllers that the last sync of the ring that went through could not follow to their root (an owner missing, or of a group the chain does not declare): not assigned",
    labelNames: ['ring'] as const,
    registers,
    collect: () => {
      unresolvedSeries.retain(sources.leading() ? ringNames() : new Set());
    },
  });
  const unresolvedSeries = new RingSeries(unresolved, (labels) => {
    unresolved.set(labels, 0);
  });

  /** Removes the series of rings gone from the cache; the rings in it. */
  function keep<T extends string>(series: RingSeries<T>): Set<string> {
    const rings = ringNames();
    series.retain(rings);
    return rings;
  }

  return {
    webhook: {
      request(ring, result, statusCode, seconds) {
        const labels = { ring, result, code: String(statusCode) };
        requests.inc(labels);
        requestSeries.add(labels);
        latency.observe({ ring }, seconds);
        latencySeries.add({ ring });
      },
    },
    sync: {
      acted(ring, action) {
        actions.inc({ ring, action });
        actionSeries.add({ ring, action });
      },
      finished(report) {
        const { ring } = report;
        const result = report.error === undefined ? 'success' : 'error';
        syncs.inc({ ring, result });
        syncSeries.add({ ring, result });
        duration.observe({ ring }, report.seconds);
        durationSeries.add({ ring });
        examined.inc({ ring }, report.examined);
        examinedSeries.add({ ring });
        // A sync that ended early counted only part of the ring: the last complete count stands.
        if (report.error === undefined) {
          unassigned.set({ ring }, report.unassigned);
          unassignedSeries.add({ ring });
          unresolved.set({ ring }, report.unresolved);
          unresolvedSeries.add({ ring });
        }
      },
    },
  };
}
