// The alerts of config/monitoring/prometheusrule.yaml run by Prometheus's own rule evaluator (`promtool test
// rules`) on series as the sharder's replicas report them: each fires when it should, with its labels and
// rendered annotations, and not when it should not (too briefly, on another replica's stale value, below its
// threshold).
import { beforeAll, describe, expect, it } from '@jest/globals';
import { stringify } from 'yaml';
import { ensurePromtool, promtool } from '../test/support/promtool.ts';
import { renderConfig } from './app.ts';
import type { AlertingRule, RuleGroup } from './monitoring-alerts.ts';
import { yamlDocuments } from './generated-files.ts';

const [prometheusRule] = yamlDocuments(renderConfig().get('monitoring/prometheusrule.yaml') ?? '') as {
  spec: { groups: RuleGroup[] };
}[];
const groups = prometheusRule?.spec.groups ?? [];
const rules = new Map<string, AlertingRule>(
  groups.flatMap((group) => group.rules.map((rule) => [rule.alert, rule])),
);

const sharder = { job: 'controller-rings-sharder-metrics', namespace: 'controller-rings-system' };
const replicas = ['10.0.0.1:8080', '10.0.0.2:8080'] as const;

/** One value per minute from t=0: `[value, minutes]` pairs, e.g. [[1, 3], [0, 2]] is 1 1 1 0 0. */
function perMinute(...runs: [value: number, minutes: number][]): string {
  return runs.flatMap(([value, minutes]) => Array<number>(minutes).fill(value)).join(' ');
}

/** A value for each of `count` minutes from t=0. */
function minutes(count: number, value: (minute: number) => number): string {
  return Array.from({ length: count }, (_, minute) => value(minute)).join(' ');
}

/** A counter growing by `perMinute` a minute, for `minutes` minutes. */
function counter(perMinuteIncrease: number, minutes: number): string {
  return `0+${perMinuteIncrease}x${minutes}`;
}

function series(metric: string, labels: Record<string, string>, values: string) {
  const matchers = Object.entries({ ...sharder, ...labels }).map(([name, value]) => `${name}="${value}"`);
  return { series: `${metric}{${matchers.join(', ')}}`, values };
}

/** The same series on both sharder replicas, as the ring gauges computed from each replica's caches are. */
function onEveryReplica(metric: string, labels: Record<string, string>, values: string) {
  return replicas.map((instance) => series(metric, { ...labels, instance }, values));
}

/** A ring's shards by state on every replica; states not given are 0 throughout. */
function ringShards(ring: string, states: Partial<Record<string, string>>, minutes: number) {
  return ['ready', 'expired', 'uncertain', 'dead', 'orphaned'].flatMap((state) =>
    onEveryReplica('controller_rings_ring_shards', { ring, state }, states[state] ?? perMinute([0, minutes])),
  );
}

/**
 * An alert expected with these labels; its annotations are the rule's with `{{ $labels.x }}` and `{{ $value }}`
 * (and `{{ $value | humanizePercentage }}`) filled in, as Prometheus renders them.
 */
function firing(alert: string, labels: Record<string, string>, value = '') {
  const rule = rules.get(alert);
  if (rule === undefined) throw new Error(`no alert ${alert}`);
  const render = (template: string) =>
    template
      .replaceAll(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? '<no value>')
      .replaceAll(/\{\{ \$value( \| humanizePercentage)? \}\}/g, value);
  return {
    exp_labels: { ...labels, severity: rule.labels.severity },
    exp_annotations: Object.fromEntries(
      Object.entries(rule.annotations).map(([key, text]) => [key, render(text)]),
    ),
  };
}

interface Case {
  name: string;
  minutes: number;
  input_series: { series: string; values: string }[];
  /** At each minute, the alert's expected firing instances (none: it must not fire then). */
  expect: { alert: string; at: number; firing: ReturnType<typeof firing>[] }[];
}

const leaderIs = (leader: 0 | 1, minutes: number) => [
  series(
    'leader_election_master_status',
    { name: 'controller-rings-sharder', instance: replicas[0] },
    perMinute([leader, minutes]),
  ),
  series(
    'leader_election_master_status',
    { name: 'controller-rings-sharder', instance: replicas[1] },
    perMinute([0, minutes]),
  ),
];

const cases: Case[] = [
  {
    name: 'no available shard: fires after 5 minutes without one, not for a ring that lost its only shard briefly',
    minutes: 12,
    input_series: [
      ...ringShards('empty', { dead: perMinute([1, 12]) }, 12),
      ...ringShards(
        'blip',
        { ready: perMinute([1, 4], [0, 3], [1, 5]), dead: perMinute([0, 4], [1, 3], [0, 5]) },
        12,
      ),
      ...ringShards('fine', { ready: perMinute([2, 12]), expired: perMinute([1, 12]) }, 12),
    ],
    expect: [
      { alert: 'ControllerRingNoAvailableShards', at: 4, firing: [] },
      {
        alert: 'ControllerRingNoAvailableShards',
        at: 11,
        firing: [firing('ControllerRingNoAvailableShards', { ring: 'empty' })],
      },
    ],
  },
  {
    name: 'shards not renewing: fires for a shard uncertain for 5 minutes, not for one expired for 2',
    minutes: 12,
    input_series: [
      ...ringShards('stuck', { ready: perMinute([1, 12]), uncertain: perMinute([0, 2], [1, 10]) }, 12),
      ...ringShards('late', { ready: perMinute([1, 12]), expired: perMinute([0, 5], [1, 2], [0, 5]) }, 12),
    ],
    expect: [
      { alert: 'ControllerRingShardsNotRenewing', at: 5, firing: [] },
      {
        alert: 'ControllerRingShardsNotRenewing',
        at: 11,
        firing: [firing('ControllerRingShardsNotRenewing', { ring: 'stuck' }, '1')],
      },
    ],
  },
  {
    name: 'shards unavailable: one of two shards dead briefly fires nothing; dead for 15 minutes does, counted once for two replicas',
    minutes: 25,
    input_series: [
      ...ringShards(
        'restarted',
        {
          ready: perMinute([2, 3], [1, 3], [2, 19]),
          dead: perMinute([0, 3], [1, 2], [0, 20]),
          orphaned: perMinute([0, 5], [1, 1], [0, 19]),
        },
        25,
      ),
      ...ringShards('failing', { ready: perMinute([1, 25]), dead: perMinute([0, 5], [1, 20]) }, 25),
    ],
    expect: [
      { alert: 'ControllerRingShardsUnavailable', at: 6, firing: [] },
      { alert: 'ControllerRingShardsUnavailable', at: 18, firing: [] },
      {
        alert: 'ControllerRingShardsUnavailable',
        at: 24,
        firing: [firing('ControllerRingShardsUnavailable', { ring: 'failing' }, '1')],
      },
    ],
  },
  {
    name: "objects unassigned: the leader's count fires after 15 minutes, a former leader's stale count never",
    minutes: 20,
    input_series: [
      ...leaderIs(1, 20),
      series(
        'controller_rings_sync_unassigned_objects',
        { ring: 'left', instance: replicas[0] },
        perMinute([3, 20]),
      ),
      series(
        'controller_rings_sync_unassigned_objects',
        { ring: 'stale', instance: replicas[0] },
        perMinute([0, 20]),
      ),
      series(
        'controller_rings_sync_unassigned_objects',
        { ring: 'stale', instance: replicas[1] },
        perMinute([5, 20]),
      ),
      series(
        'controller_rings_sync_unassigned_objects',
        { ring: 'assigned', instance: replicas[0] },
        perMinute([4, 5], [0, 15]),
      ),
    ],
    expect: [
      { alert: 'ControllerRingObjectsUnassigned', at: 10, firing: [] },
      {
        alert: 'ControllerRingObjectsUnassigned',
        at: 19,
        firing: [firing('ControllerRingObjectsUnassigned', { ring: 'left' }, '3')],
      },
    ],
  },
  {
    name: 'spec not observed: fires after 10 minutes behind, not for a spec observed within minutes',
    minutes: 15,
    input_series: [
      ...onEveryReplica('controller_rings_ring_generation', { ring: 'behind' }, perMinute([2, 15])),
      ...onEveryReplica('controller_rings_ring_observed_generation', { ring: 'behind' }, perMinute([1, 15])),
      ...onEveryReplica('controller_rings_ring_generation', { ring: 'caught-up' }, perMinute([2, 15])),
      ...onEveryReplica(
        'controller_rings_ring_observed_generation',
        { ring: 'caught-up' },
        perMinute([1, 3], [2, 12]),
      ),
    ],
    expect: [
      { alert: 'ControllerRingSpecNotObserved', at: 9, firing: [] },
      {
        alert: 'ControllerRingSpecNotObserved',
        at: 14,
        firing: [firing('ControllerRingSpecNotObserved', { ring: 'behind' })],
      },
    ],
  },
  {
    name: 'not ready: fires after 15 minutes, not for a ring that became Ready after 5',
    minutes: 20,
    input_series: [
      ...onEveryReplica('controller_rings_ring_ready', { ring: 'down' }, perMinute([0, 20])),
      ...onEveryReplica('controller_rings_ring_ready', { ring: 'started' }, perMinute([0, 5], [1, 15])),
    ],
    expect: [
      { alert: 'ControllerRingNotReady', at: 14, firing: [] },
      {
        alert: 'ControllerRingNotReady',
        at: 19,
        firing: [firing('ControllerRingNotReady', { ring: 'down' })],
      },
    ],
  },
  {
    name: 'shard Leases ignored: fires per reason after 15 minutes',
    minutes: 20,
    input_series: [
      ...onEveryReplica(
        'controller_rings_ring_ignored_leases',
        { ring: 'shared', reason: 'DuplicateName' },
        perMinute([2, 20]),
      ),
      ...onEveryReplica(
        'controller_rings_ring_ignored_leases',
        { ring: 'shared', reason: 'InvalidName' },
        perMinute([1, 2], [0, 18]),
      ),
    ],
    expect: [
      { alert: 'ControllerRingShardLeasesIgnored', at: 10, firing: [] },
      {
        alert: 'ControllerRingShardLeasesIgnored',
        at: 19,
        firing: [
          firing('ControllerRingShardLeasesIgnored', { ring: 'shared', reason: 'DuplicateName' }, '2'),
        ],
      },
    ],
  },
  {
    name: 'webhook errors: fires above 5 % of calls for 10 minutes, not for 1 % or none',
    minutes: 25,
    input_series: [
      ...(['failing', 'rare', 'healthy'] as const).map((ring) =>
        series(
          'controller_rings_webhook_requests_total',
          { ring, result: 'assigned', code: '200', instance: replicas[0] },
          counter(ring === 'rare' ? 99 : 10, 25),
        ),
      ),
      series(
        'controller_rings_webhook_requests_total',
        { ring: 'failing', result: 'error', code: '200', instance: replicas[0] },
        counter(1, 25),
      ),
      series(
        'controller_rings_webhook_requests_total',
        { ring: 'failing', result: 'refused', code: '413', instance: replicas[1] },
        counter(1, 25),
      ),
      series(
        'controller_rings_webhook_requests_total',
        { ring: 'rare', result: 'invalid', code: '400', instance: replicas[1] },
        counter(1, 25),
      ),
      series(
        'controller_rings_webhook_requests_total',
        { ring: 'healthy', result: 'error', code: '200', instance: replicas[1] },
        counter(0, 25),
      ),
    ],
    expect: [
      { alert: 'ControllerRingWebhookErrors', at: 8, firing: [] },
      // 2 failed calls of 12 a minute.
      {
        alert: 'ControllerRingWebhookErrors',
        at: 20,
        firing: [firing('ControllerRingWebhookErrors', { ring: 'failing' }, '16.67%')],
      },
    ],
  },
  {
    name: 'sync failing: fires once no sync succeeded for 30 minutes, not while some still succeed',
    minutes: 50,
    input_series: [
      // Succeeds every minute for 10 minutes, then fails every minute.
      series(
        'controller_rings_syncs_total',
        { ring: 'broken', result: 'success', instance: replicas[0] },
        minutes(50, (minute) => Math.min(minute, 9)),
      ),
      series(
        'controller_rings_syncs_total',
        { ring: 'broken', result: 'error', instance: replicas[0] },
        minutes(50, (minute) => Math.max(minute - 9, 0)),
      ),
      // Fails every minute, succeeds once every 10 minutes.
      series(
        'controller_rings_syncs_total',
        { ring: 'flaky', result: 'error', instance: replicas[0] },
        counter(1, 50),
      ),
      series(
        'controller_rings_syncs_total',
        { ring: 'flaky', result: 'success', instance: replicas[0] },
        minutes(50, (minute) => Math.floor(minute / 10)),
      ),
      series(
        'controller_rings_syncs_total',
        { ring: 'fine', result: 'success', instance: replicas[0] },
        counter(1, 50),
      ),
      series(
        'controller_rings_syncs_total',
        { ring: 'fine', result: 'error', instance: replicas[0] },
        perMinute([0, 50]),
      ),
    ],
    expect: [
      { alert: 'ControllerRingSyncFailing', at: 30, firing: [] },
      {
        alert: 'ControllerRingSyncFailing',
        at: 45,
        firing: [firing('ControllerRingSyncFailing', { ring: 'broken' })],
      },
    ],
  },
  {
    name: 'no sharder leader: fires after 5 minutes without one',
    minutes: 12,
    input_series: [
      series(
        'leader_election_master_status',
        { name: 'controller-rings-sharder', instance: replicas[0] },
        perMinute([1, 3], [0, 9]),
      ),
      series(
        'leader_election_master_status',
        { name: 'controller-rings-sharder', instance: replicas[1] },
        perMinute([0, 12]),
      ),
    ],
    expect: [
      { alert: 'ControllerRingsSharderNoLeader', at: 6, firing: [] },
      {
        alert: 'ControllerRingsSharderNoLeader',
        at: 10,
        firing: [firing('ControllerRingsSharderNoLeader', {})],
      },
    ],
  },
  {
    name: 'no sharder leader: a leader change of 2 minutes fires nothing',
    minutes: 12,
    input_series: [
      series(
        'leader_election_master_status',
        { name: 'controller-rings-sharder', instance: replicas[0] },
        perMinute([1, 3], [0, 9]),
      ),
      series(
        'leader_election_master_status',
        { name: 'controller-rings-sharder', instance: replicas[1] },
        perMinute([0, 5], [1, 7]),
      ),
    ],
    expect: [{ alert: 'ControllerRingsSharderNoLeader', at: 11, firing: [] }],
  },
  {
    name: 'no sharder leader: fires when no replica is scraped at all',
    minutes: 10,
    input_series: [...onEveryReplica('controller_rings_ring_ready', { ring: 'any' }, perMinute([1, 2]))],
    expect: [
      {
        alert: 'ControllerRingsSharderNoLeader',
        at: 9,
        firing: [firing('ControllerRingsSharderNoLeader', { ...sharder, name: 'controller-rings-sharder' })],
      },
    ],
  },
];

function unitTests(selected: Case[]) {
  return {
    rule_files: ['rules.yaml'],
    evaluation_interval: '1m',
    tests: selected.map((test) => ({
      name: test.name,
      interval: '1m',
      input_series: test.input_series,
      alert_rule_test: test.expect.map(({ alert, at, firing: expected }) => ({
        eval_time: `${at}m`,
        alertname: alert,
        exp_alerts: expected,
      })),
    })),
  };
}

describe('the alerts (promtool test rules)', () => {
  let binary: string;
  beforeAll(async () => {
    binary = await ensurePromtool();
  }, 600_000);

  it('has cases in which each alert fires', () => {
    const tested = new Set(
      cases.flatMap((test) => test.expect.filter((e) => e.firing.length > 0).map((e) => e.alert)),
    );
    expect([...rules.keys()].filter((alert) => !tested.has(alert))).toEqual([]);
  });

  it.each(cases.map((test) => [test.name, test] as const))('%s', async (_, test) => {
    const result = await promtool(binary, ['test', 'rules', 'tests.yaml'], {
      'rules.yaml': { groups },
      'tests.yaml': stringify(unitTests([test])),
    });
    expect({ code: result.code, output: result.stdout + result.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining('SUCCESS') as unknown,
    });
  });
});
