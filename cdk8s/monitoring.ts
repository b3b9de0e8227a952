// The optional monitoring of the sharder (config/monitoring/): a ServiceMonitor on its metrics Service, a
// PrometheusRule with the alerts on rings and the sharder, and the Grafana dashboard in a ConfigMap for
// Grafana's dashboard sidecar. The first two need prometheus-operator's CRDs, so none of it is in install.yaml.
import { Construct } from 'constructs';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { define } from './api-object.ts';
import { alertRuleGroups, defaultRunbookUrl, type RuleGroup } from './monitoring-alerts.ts';
import { grafanaDashboard } from './monitoring-dashboard.ts';
import { defaultSharderSeries, type SharderSeries } from './monitoring-queries.ts';
import { defaultNamespace, sharderLabels, sharderName, sharderSelector } from './names.ts';

export interface SharderMonitoringProps {
  /**
   * The sharder's namespace and the names of its metrics Service and leader Lease: the Sharder construct, or
   * the same fields. Default: as in config/.
   */
  sharder?: { namespace: string; metricsServiceName: string; leaderElectionLeaseName: string };
  /** Where the ServiceMonitor and the PrometheusRule go; default the sharder's namespace. */
  namespace?: string;
  /**
   * Labels added to every object, e.g. what your Prometheus's serviceMonitorSelector and ruleSelector select
   * (kube-prometheus-stack: `release: <its release name>`).
   */
  labels?: Record<string, string>;
  /** The scrape interval; default 30s. */
  scrapeInterval?: string;
  /**
   * PromQL label matchers that select the sharder's series in the alerts and the dashboard. Default the job and
   * namespace labels of the ServiceMonitor's targets: `job="<metrics Service>", namespace="<its namespace>"`.
   */
  sharderMatchers?: string;
  /** The alerts' runbook (a copy of docs/monitoring.md); default the project's on GitHub. */
  runbookUrl?: string;
  /**
   * The ConfigMap with the dashboard, for Grafana's sidecar, or false for none. Its labels default to
   * `grafana_dashboard: "1"` (the sidecar's default label), its namespace to the sharder's.
   */
  dashboard?: { namespace?: string; labels?: Record<string, string> } | false;
}

export const dashboardFileName = 'controller-rings.json';

export class SharderMonitoring extends Construct {
  readonly ruleGroups: RuleGroup[];
  readonly dashboard: Record<string, unknown>;

  constructor(scope: Construct, id: string, props: SharderMonitoringProps = {}) {
    super(scope, id);
    const sharder = props.sharder ?? {
      namespace: defaultNamespace,
      metricsServiceName: `${sharderName}-metrics`,
      leaderElectionLeaseName: sharderName,
    };
    const namespace = props.namespace ?? sharder.namespace;
    const labels = { ...sharderLabels, ...props.labels };
    const series: SharderSeries = {
      ...defaultSharderSeries(sharder.namespace, sharder.metricsServiceName),
      leaderElectionLeaseName: sharder.leaderElectionLeaseName,
      ...(props.sharderMatchers === undefined ? {} : { matchers: props.sharderMatchers }),
    };
    this.ruleGroups = alertRuleGroups({ series, runbookUrl: props.runbookUrl ?? defaultRunbookUrl });
    this.dashboard = grafanaDashboard(series);

    define(this, 'service-monitor', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'ServiceMonitor',
      metadata: { name: sharderName, namespace, labels },
      spec: {
        // The metrics Service carries the sharder's labels like the webhook Service; only it has the port.
        selector: { matchLabels: { ...sharderSelector } },
        namespaceSelector: { matchNames: [sharder.namespace] },
        endpoints: [
          { port: 'metrics', path: '/metrics', scheme: 'http', interval: props.scrapeInterval ?? '30s' },
        ],
      },
    });
    define(this, 'prometheus-rule', {
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PrometheusRule',
      metadata: { name: sharderName, namespace, labels },
      spec: { groups: this.ruleGroups },
    });
    if (props.dashboard !== false) {
      const dashboard = props.dashboard ?? {};
      define(this, 'dashboard', {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: `${sharderName}-dashboard`,
          namespace: dashboard.namespace ?? sharder.namespace,
          labels: { ...labels, ...(dashboard.labels ?? { grafana_dashboard: '1' }) },
        },
        data: { [dashboardFileName]: dashboardJson(this.dashboard) },
      } satisfies IConfigMap);
    }
  }
}

/** The dashboard as the file Grafana imports. */
export function dashboardJson(dashboard: Record<string, unknown>): string {
  return `${JSON.stringify(dashboard, null, 2)}\n`;
}
