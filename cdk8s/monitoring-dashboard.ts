// The Grafana dashboard of rings, the sharder and the shards (the metrics of docs/monitoring.md): a JSON model
// for Grafana's import or its dashboard sidecar. Variables: the Prometheus data source, the rings, and the
// shards' jobs (those that report objects of the chosen rings).
import {
  availableStates,
  fromLeader,
  sharderLeader,
  sharderSelector,
  type SharderSeries,
} from './monitoring-queries.ts';

export const dashboardUid = 'controller-rings';

export interface DashboardTarget {
  expr: string;
  legendFormat: string;
  refId: string;
}

export interface DashboardPanel {
  id: number;
  type: 'row' | 'timeseries' | 'stat';
  title: string;
  description?: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: 'prometheus'; uid: string };
  targets?: DashboardTarget[];
  fieldConfig?: unknown;
  options?: unknown;
  collapsed?: boolean;
}

interface PanelSpec {
  title: string;
  description: string;
  type?: 'timeseries' | 'stat';
  unit?: string;
  stacked?: boolean;
  /** Value mappings of a stat panel. */
  mappings?: unknown[];
  targets: [expr: string, legend: string][];
}

const datasource = { type: 'prometheus', uid: '${datasource}' } as const;

/** Panels in rows of `perRow`, each section under a row panel. */
function layout(sections: [title: string, panels: PanelSpec[]][], perRow = 3): DashboardPanel[] {
  const width = 24 / perRow;
  const height = 8;
  const panels: DashboardPanel[] = [];
  let y = 0;
  for (const [title, specs] of sections) {
    panels.push({
      id: panels.length + 1,
      type: 'row',
      title,
      collapsed: false,
      gridPos: { x: 0, y, w: 24, h: 1 },
    });
    y += 1;
    specs.forEach((spec, index) => {
      const type = spec.type ?? 'timeseries';
      panels.push({
        id: panels.length + 1,
        type,
        title: spec.title,
        description: spec.description,
        datasource,
        gridPos: {
          x: (index % perRow) * width,
          y: y + Math.floor(index / perRow) * height,
          w: width,
          h: height,
        },
        targets: spec.targets.map(([expr, legendFormat], target) => ({
          expr,
          legendFormat,
          refId: String.fromCharCode(65 + target),
        })),
        fieldConfig: {
          defaults: {
            unit: spec.unit ?? 'short',
            ...(spec.mappings === undefined ? {} : { mappings: spec.mappings }),
            ...(type === 'timeseries' && spec.stacked === true
              ? { custom: { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 30 } }
              : {}),
          },
          overrides: [],
        },
        options:
          type === 'stat'
            ? {
                reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
                colorMode: 'background',
              }
            : {
                legend: { displayMode: 'list', placement: 'bottom' },
                tooltip: { mode: 'multi', sort: 'desc' },
              },
      });
    });
    y += Math.ceil(specs.length / perRow) * height;
  }
  return panels;
}

const rate = (selector: string, window = '$__rate_interval') => `rate(${selector}[${window}])`;
const quantile = (q: number, by: string, bucket: string, window?: string) =>
  `histogram_quantile(${q}, sum by (${by}, le) (${rate(bucket, window)}))`;
// A ring syncs every --sync-period (5 minutes) and on changes: over a shorter window most points would have no sync.
const syncWindow = '15m';

/** The panels' queries, by section. */
export function dashboardSections(series: SharderSeries): [string, PanelSpec[]][] {
  const metric = (name: string, ...matchers: string[]) =>
    sharderSelector(series, name, 'ring=~"$ring"', ...matchers);
  const shard = (name: string, ...matchers: string[]) =>
    `${name}{${['job=~"$shard_job"', ...matchers].join(', ')}}`;
  const ringOfShard = (name: string) => `${name}{ring=~"$ring"}`;
  return [
    [
      'Rings',
      [
        {
          title: 'Shards by state',
          description: 'Member shards of each ring by Lease state; available = ready + expired + uncertain.',
          stacked: true,
          targets: [
            ['max by (ring, state) (' + metric('controller_rings_ring_shards') + ')', '{{ring}} {{state}}'],
          ],
        },
        {
          title: 'Available shards',
          description: 'Shards that get objects: ready, expired or uncertain.',
          targets: [
            [
              `sum by (ring) (max by (ring, state) (${metric('controller_rings_ring_shards', `state=~"${availableStates}"`)}))`,
              '{{ring}}',
            ],
          ],
        },
        {
          title: 'Ring ready',
          description: 'The Ready condition of each ring.',
          type: 'stat',
          mappings: [
            {
              type: 'value',
              options: { '0': { text: 'Not ready', color: 'red' }, '1': { text: 'Ready', color: 'green' } },
            },
          ],
          targets: [[`max by (ring) (${metric('controller_rings_ring_ready')})`, '{{ring}}']],
        },
        {
          title: 'Generation vs observed generation',
          description:
            'metadata.generation and status.observedGeneration: apart while the sharder has not seen the spec.',
          targets: [
            [`max by (ring) (${metric('controller_rings_ring_generation')})`, '{{ring}} generation'],
            [`max by (ring) (${metric('controller_rings_ring_observed_generation')})`, '{{ring}} observed'],
          ],
        },
        {
          title: 'Ignored shard Leases',
          description: 'Shard Leases a ring leaves out, by reason.',
          targets: [
            [
              `max by (ring, reason) (${metric('controller_rings_ring_ignored_leases')})`,
              '{{ring}} {{reason}}',
            ],
          ],
        },
        {
          title: 'Unassigned objects',
          description: 'Objects the last sync left without a shard (reported by the leader).',
          targets: [
            [
              `max by (ring) ${fromLeader(series, metric('controller_rings_sync_unassigned_objects'))}`,
              '{{ring}}',
            ],
          ],
        },
      ],
    ],
    [
      'Sync',
      [
        {
          title: 'Syncs by result',
          description: 'Syncs per second by ring and result.',
          unit: 'ops',
          targets: [
            [
              `sum by (ring, result) (${rate(metric('controller_rings_syncs_total'))})`,
              '{{ring}} {{result}}',
            ],
          ],
        },
        {
          title: 'Sync duration',
          description: 'Median and 99th percentile of a sync over 15 minutes, by ring.',
          unit: 's',
          targets: [
            [
              quantile(0.5, 'ring', metric('controller_rings_sync_duration_seconds_bucket'), syncWindow),
              '{{ring}} p50',
            ],
            [
              quantile(0.99, 'ring', metric('controller_rings_sync_duration_seconds_bucket'), syncWindow),
              '{{ring}} p99',
            ],
          ],
        },
        {
          title: 'Objects examined',
          description: 'Objects the syncs listed, per second.',
          unit: 'ops',
          targets: [
            [`sum by (ring) (${rate(metric('controller_rings_sync_objects_examined_total'))})`, '{{ring}}'],
          ],
        },
        {
          title: 'Sync actions',
          description: 'Objects moved (from an unavailable shard) or drained (from a live one), per second.',
          unit: 'ops',
          targets: [
            [
              `sum by (ring, action) (${rate(metric('controller_rings_sync_actions_total'))})`,
              '{{ring}} {{action}}',
            ],
          ],
        },
        {
          title: 'Leader',
          description: 'The sharder replica that holds the leader Lease (1) and the others (0).',
          targets: [
            [
              `max by (instance) (${sharderSelector(series, 'leader_election_master_status', `name="${series.leaderElectionLeaseName}"`)})`,
              '{{instance}}',
            ],
          ],
        },
        {
          title: 'Replicas leading',
          description: 'How many sharder replicas lead: 1, else the controllers stand still.',
          type: 'stat',
          targets: [[`count(${sharderLeader(series)}) or vector(0)`, 'leaders']],
        },
      ],
    ],
    [
      'Webhook',
      [
        {
          title: 'Webhook calls by result',
          description: 'Admission webhook calls per second by ring and result.',
          unit: 'reqps',
          stacked: true,
          targets: [
            [
              `sum by (ring, result) (${rate(metric('controller_rings_webhook_requests_total'))})`,
              '{{ring}} {{result}}',
            ],
          ],
        },
        {
          title: 'Webhook failures',
          description: 'Share of calls that ended in error, invalid or refused (the alert fires above 5 %).',
          unit: 'percentunit',
          targets: [
            [
              `sum by (ring) (${rate(metric('controller_rings_webhook_requests_total', 'result=~"error|invalid|refused"'))}) / ` +
                `sum by (ring) (${rate(metric('controller_rings_webhook_requests_total'))})`,
              '{{ring}}',
            ],
          ],
        },
        {
          title: 'Webhook latency',
          description: 'Median and 99th percentile of answering a call, by ring.',
          unit: 's',
          targets: [
            [
              quantile(0.5, 'ring', metric('controller_rings_webhook_request_duration_seconds_bucket')),
              '{{ring}} p50',
            ],
            [
              quantile(0.99, 'ring', metric('controller_rings_webhook_request_duration_seconds_bucket')),
              '{{ring}} p99',
            ],
          ],
        },
      ],
    ],
    [
      'Shards',
      [
        {
          title: 'Objects owned per shard',
          description: 'Objects labelled for each shard now, drain-labelled ones included, by resource.',
          stacked: true,
          targets: [
            [
              `sum by (ring, resource, instance) (${ringOfShard('controller_rings_shard_objects')})`,
              '{{ring}} {{instance}} {{resource}}',
            ],
          ],
        },
        {
          title: 'Drains acknowledged',
          description: 'Objects the shards handed over per second, by ring and resource.',
          unit: 'ops',
          targets: [
            [
              `sum by (ring, resource) (${rate(ringOfShard('controller_rings_shard_drains_acknowledged_total'))})`,
              '{{ring}} {{resource}}',
            ],
          ],
        },
        {
          title: 'Reconciles by result',
          description: 'Reconciles per second of the shards, by controller and result.',
          unit: 'ops',
          targets: [
            [
              `sum by (controller, result) (${rate(shard('controller_runtime_reconcile_total'))})`,
              '{{controller}} {{result}}',
            ],
          ],
        },
        {
          title: 'Reconcile duration',
          description: 'Median and 99th percentile of a reconcile, by controller.',
          unit: 's',
          targets: [
            [
              quantile(0.5, 'controller', shard('controller_runtime_reconcile_time_seconds_bucket')),
              '{{controller}} p50',
            ],
            [
              quantile(0.99, 'controller', shard('controller_runtime_reconcile_time_seconds_bucket')),
              '{{controller}} p99',
            ],
          ],
        },
        {
          title: 'Queue depth',
          description: 'Work items waiting, by shard and queue.',
          targets: [[`sum by (instance, name) (${shard('workqueue_depth')})`, '{{instance}} {{name}}']],
        },
        {
          title: 'Queue wait',
          description: '99th percentile of the time an item waits in the queue before a worker takes it.',
          unit: 's',
          targets: [
            [quantile(0.99, 'name', shard('workqueue_queue_duration_seconds_bucket')), '{{name}} p99'],
          ],
        },
      ],
    ],
  ];
}

/** The dashboard's JSON model. */
export function grafanaDashboard(series: SharderSeries): Record<string, unknown> {
  // A variable's query as a string: every Grafana version since 7 reads it so (newer ones convert it).
  const variable = (name: string, label: string, definition: string) => ({
    name,
    label,
    type: 'query',
    datasource,
    definition,
    query: definition,
    refresh: 2,
    multi: true,
    includeAll: true,
    current: {},
    sort: 1,
  });
  return {
    uid: dashboardUid,
    title: 'controller-rings',
    description: 'Rings, the sharder and the shards of controller-rings (docs/monitoring.md).',
    tags: ['controller-rings', 'kubernetes'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    refresh: '30s',
    schemaVersion: 39,
    time: { from: 'now-3h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {} },
        variable(
          'ring',
          'Ring',
          `label_values(${sharderSelector(series, 'controller_rings_ring_shards')}, ring)`,
        ),
        variable(
          'shard_job',
          'Shard jobs',
          'label_values(controller_rings_shard_objects{ring=~"$ring"}, job)',
        ),
      ],
    },
    annotations: { list: [] },
    panels: layout(dashboardSections(series)),
  };
}
