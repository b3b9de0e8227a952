// The PromQL the alerts and the dashboard share: which series are the sharder's, and the ring aggregations of
// docs/monitoring.md. Every sharder replica reports the ring gauges from its own caches, so they are
// aggregated with max over replicas; the sync's gauges count only on the replica that leads now.
import { sharderName } from './names.ts';

/** Where the sharder's series come from, as Prometheus sees them. */
export interface SharderSeries {
  /**
   * PromQL label matchers that select the sharder's series and no shard's. Default: the `job` and `namespace`
   * labels a ServiceMonitor on the Service `controller-rings-sharder-metrics` in `controller-rings-system` gives
   * (prometheus-operator names the job after the Service).
   */
  matchers: string;
  /** The sharder's leader-election Lease (`leader_election_master_status{name}`). Default controller-rings-sharder. */
  leaderElectionLeaseName: string;
}

export function defaultSharderSeries(namespace: string, metricsServiceName: string): SharderSeries {
  return {
    matchers: `job="${metricsServiceName}", namespace="${namespace}"`,
    leaderElectionLeaseName: sharderName,
  };
}

/** A selector of one of the sharder's metrics, with more matchers. */
export function sharderSelector(series: SharderSeries, metric: string, ...matchers: string[]): string {
  return `${metric}{${[series.matchers, ...matchers].join(', ')}}`;
}

/** 1 on the replica that holds the leader Lease now, one series per replica. */
export function sharderLeader(series: SharderSeries): string {
  return `${sharderSelector(series, 'leader_election_master_status', `name="${series.leaderElectionLeaseName}"`)} == 1`;
}

/**
 * A gauge the sync sets on the leader, taken from the replica that leads now: a former leader that is still
 * up may keep its last value.
 */
export function fromLeader(series: SharderSeries, selector: string): string {
  return `(${selector} and on (instance) (${sharderLeader(series)}))`;
}

export const availableStates = 'ready|expired|uncertain';
