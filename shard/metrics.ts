// The shard library's own Prometheus metrics (docs/metrics.md), registered on the Metrics of a Shard or a
// ShardAdapter beside controller-runtime's: the objects a shard owns now, per resource, read at each scrape
// from the shard's caches (nothing is kept per object), and the drains it acknowledged. Several shards may
// share one Metrics (shards of different rings in one process): the metrics exist once per registry.
import { Counter, Gauge } from 'prom-client';
import type { Metrics } from '../runtime/metrics.ts';

/** Counts, at scrape time, the objects of one shard by resource (kubectl's form: configmaps, deployments.apps). */
export type ObjectCounts = () => Iterable<readonly [resource: string, count: number]>;

export interface ShardMetrics {
  /** Reports `ring`'s objects from `counts` at each scrape, for as long as the Metrics lives. */
  countObjects(ring: string, counts: ObjectCounts): void;
  /**
   * Counts the drains a shard of `ring` acknowledged for `resource`; the series exists (0) from the first call.
   * Calls for the same ring and resource count on the same series.
   */
  drainsAcknowledged(ring: string, resource: string): () => void;
}

const perMetrics = new WeakMap<Metrics, ShardMetrics>();

/** The shard library's metrics on `metrics`, created on its registry the first time. */
export function shardMetrics(metrics: Metrics): ShardMetrics {
  let found = perMetrics.get(metrics);
  if (found === undefined) {
    found = create(metrics);
    perMetrics.set(metrics, found);
  }
  return found;
}

function create(metrics: Metrics): ShardMetrics {
  const registers = [metrics.registry];
  const sources: { ring: string; counts: ObjectCounts }[] = [];
  new Gauge({
    name: 'controller_rings_shard_objects',
    help: 'Objects of the resource labelled for this shard now (drain-labelled ones included), as its cache shows them',
    labelNames: ['ring', 'resource'] as const,
    registers,
    collect() {
      this.reset();
      // Added up: two shards of one ring in a process own their objects each.
      for (const { ring, counts } of sources) {
        for (const [resource, count] of counts()) this.inc({ ring, resource }, count);
      }
    },
  });
  const drains = new Counter({
    name: 'controller_rings_shard_drains_acknowledged_total',
    help: 'Objects of the resource this shard handed over: drain acknowledgements, controlled objects with their owner included',
    labelNames: ['ring', 'resource'] as const,
    registers,
  });
  return {
    countObjects(ring, counts) {
      sources.push({ ring, counts });
    },
    drainsAcknowledged(ring, resource) {
      const labels = { ring, resource };
      // From the start: rate() sees the first acknowledgement.
      drains.inc(labels, 0);
      return () => {
        drains.inc(labels);
      };
    },
  };
}
