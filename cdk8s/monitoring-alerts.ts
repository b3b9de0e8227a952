// The alerts on rings and the sharder, as Prometheus rule groups (a PrometheusRule's spec.groups). What each
// means and what to do: docs/monitoring.md, whose section per alert the runbook_url names.
import { availableStates, fromLeader, sharderSelector, type SharderSeries } from './monitoring-queries.ts';

export interface AlertingRule {
  alert: string;
  expr: string;
  for: string;
  labels: { severity: 'critical' | 'warning' | 'info' };
  annotations: { summary: string; description: string; runbook_url: string };
}

export interface RuleGroup {
  name: string;
  rules: AlertingRule[];
}

export interface AlertOptions {
  series: SharderSeries;
  /** The runbook's address; each alert's runbook_url is this with `#<alert name in lower case>`. */
  runbookUrl: string;
}

export const defaultRunbookUrl =
  'https://github.com/controller-rings/controller-rings/blob/main/docs/monitoring.md';

export function alertRuleGroups({ series, runbookUrl }: AlertOptions): RuleGroup[] {
  const metric = (name: string, ...matchers: string[]) => sharderSelector(series, name, ...matchers);
  const ringShards = (states: string) =>
    `sum by (ring) (max by (ring, state) (${metric('controller_rings_ring_shards', `state=~"${states}"`)}))`;
  const webhookRate = (...matchers: string[]) =>
    `sum by (ring) (rate(${metric('controller_rings_webhook_requests_total', ...matchers)}[5m]))`;
  const syncs = (result: string) =>
    `sum by (ring) (increase(${metric('controller_rings_syncs_total', `result="${result}"`)}[15m]))`;
  const leader = metric('leader_election_master_status', `name="${series.leaderElectionLeaseName}"`);

  const rule = (
    alert: string,
    severity: AlertingRule['labels']['severity'],
    expr: string,
    duration: string,
    summary: string,
    description: string,
  ): AlertingRule => ({
    alert,
    expr,
    for: duration,
    labels: { severity },
    annotations: { summary, description, runbook_url: `${runbookUrl}#${alert.toLowerCase()}` },
  });

  const rings: AlertingRule[] = [
    rule(
      'ControllerRingNoAvailableShards',
      'critical',
      `${ringShards(availableStates)} == 0`,
      '5m',
      'Ring {{ $labels.ring }} has no available shard.',
      'No shard of ControllerRing {{ $labels.ring }} is ready, expired or uncertain: new objects are admitted ' +
        'without a shard and nothing reconciles them until a shard joins.',
    ),
    rule(
      'ControllerRingShardsNotRenewing',
      'warning',
      `${ringShards('expired|uncertain')} > 0`,
      '5m',
      'Ring {{ $labels.ring }} has {{ $value }} shards that stopped renewing their Lease.',
      'Shards of ControllerRing {{ $labels.ring }} have been expired or uncertain for 5 minutes: they still ' +
        'count as available, so their objects stay on them, but they do not renew their Leases and the sharder ' +
        'cannot take them over.',
    ),
    rule(
      'ControllerRingShardsUnavailable',
      'warning',
      `${ringShards('dead|orphaned')} > 0`,
      '15m',
      'Ring {{ $labels.ring }} has had {{ $value }} dead or orphaned shards for 15 minutes.',
      'ControllerRing {{ $labels.ring }} has kept dead or orphaned shard Leases for 15 minutes; the sharder ' +
        'deletes an orphaned Lease about a minute after the shard died, so shards keep failing or the ' +
        'sharder cannot delete them.',
    ),
    rule(
      'ControllerRingObjectsUnassigned',
      'warning',
      `max by (ring) ${fromLeader(series, metric('controller_rings_sync_unassigned_objects'))} > 0`,
      '15m',
      'Ring {{ $labels.ring }} has {{ $value }} objects without a shard.',
      "The sharder's syncs of ControllerRing {{ $labels.ring }} have left {{ $value }} objects without a shard " +
        'for 15 minutes: nothing reconciles them.',
    ),
    rule(
      'ControllerRingSpecNotObserved',
      'warning',
      `max by (ring) (${metric('controller_rings_ring_generation')}) > ` +
        `max by (ring) (${metric('controller_rings_ring_observed_generation')})`,
      '10m',
      "The sharder has not observed ring {{ $labels.ring }}'s spec for 10 minutes.",
      "ControllerRing {{ $labels.ring }}'s metadata.generation has been ahead of its status.observedGeneration " +
        'for 10 minutes: the sharder does not act on its current spec.',
    ),
    rule(
      'ControllerRingNotReady',
      'warning',
      `max by (ring) (${metric('controller_rings_ring_ready')}) == 0`,
      '15m',
      'Ring {{ $labels.ring }} has not been Ready for 15 minutes.',
      "ControllerRing {{ $labels.ring }}'s Ready condition has not been True for 15 minutes; its reason and " +
        'message say what to fix (kubectl rings describe {{ $labels.ring }}).',
    ),
    rule(
      'ControllerRingShardLeasesIgnored',
      'info',
      `max by (ring, reason) (${metric('controller_rings_ring_ignored_leases')}) > 0`,
      '15m',
      'Ring {{ $labels.ring }} ignores {{ $value }} shard Leases ({{ $labels.reason }}).',
      'ControllerRing {{ $labels.ring }} has left {{ $value }} shard Leases out for 15 minutes because of ' +
        '{{ $labels.reason }}: those shards get no objects.',
    ),
    rule(
      'ControllerRingWebhookErrors',
      'warning',
      `${webhookRate('result=~"error|invalid|refused"')} / ${webhookRate()} > 0.05`,
      '10m',
      "More than 5% of ring {{ $labels.ring }}'s webhook calls fail.",
      '{{ $value | humanizePercentage }} of the admission webhook calls for ControllerRing {{ $labels.ring }} ' +
        'ended in error, invalid or refused over 10 minutes: those objects are admitted without a shard ' +
        '(failurePolicy Ignore) and wait for the next sync.',
    ),
    rule(
      'ControllerRingSyncFailing',
      'warning',
      `${syncs('error')} > 0 unless ${syncs('success')} > 0`,
      '15m',
      "Ring {{ $labels.ring }}'s syncs keep failing.",
      'Every sync of ControllerRing {{ $labels.ring }} for 30 minutes failed: objects are neither moved off ' +
        'unavailable shards nor drained towards new ones, nor are unassigned objects assigned.',
    ),
  ];
  const sharder: AlertingRule[] = [
    rule(
      'ControllerRingsSharderNoLeader',
      'critical',
      `sum(${leader}) < 1 or absent(${leader})`,
      '5m',
      'No sharder replica leads.',
      `No replica of the sharder has held the leader Lease ${series.leaderElectionLeaseName} for 5 minutes ` +
        '(or none is scraped): shard states, ring status and syncs stand still, so a dead shard keeps its ' +
        'objects.',
    ),
  ];
  return [
    { name: 'controller-rings.rings', rules: rings },
    { name: 'controller-rings.sharder', rules: sharder },
  ];
}
