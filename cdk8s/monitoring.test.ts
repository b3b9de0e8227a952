// config/monitoring/: the PrometheusRule's groups and every query of the dashboard pass Prometheus's own rule
// checker (promtool check rules), every metric they read is documented, every alert has its runbook section,
// and the objects select what the sharder serves.
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { ensurePromtool, promtool } from '../test/support/promtool.ts';
import { renderConfig } from './app.ts';
import { yamlDocuments } from './generated-files.ts';
import type { RuleGroup } from './monitoring-alerts.ts';
import type { DashboardPanel } from './monitoring-dashboard.ts';
import { dashboardFileName, SharderMonitoring } from './monitoring.ts';
import { Sharder } from './sharder.ts';

/** What the tests read of the objects. */
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: {
    groups?: RuleGroup[];
    selector?: { matchLabels: Record<string, string> };
    namespaceSelector?: unknown;
    endpoints?: { port: string }[];
    ports?: { name: string }[];
  };
  resources?: string[];
  data?: Record<string, string>;
}

const rendered = renderConfig();
const objects = (path: string) => yamlDocuments(rendered.get(path) ?? '') as Manifest[];
const [prometheusRule] = objects('monitoring/prometheusrule.yaml');
const groups = prometheusRule?.spec?.groups ?? [];
const alerts = groups.flatMap((group) => group.rules);
const dashboard = JSON.parse(rendered.get('monitoring/controller-rings-dashboard.json') ?? '{}') as {
  panels: DashboardPanel[];
  templating: { list: { name: string; definition?: string }[] };
};

// Grafana's variables as the dashboard's queries may see them: every ring, every job.
const variables: Record<string, string> = { ring: '.+', shard_job: '.+', __rate_interval: '5m' };
const dashboardQueries = [
  ...dashboard.panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr)),
  // label_values(<selector>, label): the selector is PromQL too.
  ...dashboard.templating.list.flatMap(({ definition }) =>
    definition === undefined ? [] : [/^label_values\((.*), \w+\)$/.exec(definition)?.[1] ?? definition],
  ),
].map((expr) => expr.replaceAll(/\$(\w+)/g, (text, name: string) => variables[name] ?? text));

/** Metric names a query selects: each selector has matchers, so a name is what stands before a `{`. */
function metricNames(expr: string): string[] {
  return [...expr.replaceAll(/"[^"]*"/g, '""').matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)\{/g)].map(
    ([, name = '']) => name.replace(/_(bucket|sum|count)$/, ''),
  );
}

describe('config/monitoring/', () => {
  let binary: string;
  beforeAll(async () => {
    binary = await ensurePromtool();
  }, 600_000);

  it('has no object in install.yaml or the default kustomization', () => {
    const kinds = objects('install.yaml').map((object) => object.kind);
    expect(kinds).not.toContain('PrometheusRule');
    expect(kinds).not.toContain('ServiceMonitor');
    expect(objects('kustomization.yaml')[0]?.resources).not.toContainEqual(
      expect.stringMatching(/monitoring/),
    );
    expect(objects('monitoring/kustomization.yaml')[0]?.resources).toEqual([
      'servicemonitor.yaml',
      'prometheusrule.yaml',
      'grafana-dashboard.yaml',
    ]);
  });

  it("has rule groups that promtool's checker accepts, lint included", async () => {
    expect(alerts.length).toBeGreaterThan(0);
    const result = await promtool(binary, ['check', 'rules', '--lint=all', '--lint-fatal', 'rules.yaml'], {
      'rules.yaml': { groups },
    });
    expect({ code: result.code, output: result.stdout + result.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining(`SUCCESS: ${alerts.length} rules found`) as unknown,
    });
  });

  it('fails the checker on a broken expression (the check can fail)', async () => {
    const broken = [{ name: 'broken', rules: [{ ...alerts[0], expr: 'sum by (ring (up)' }] }];
    const result = await promtool(binary, ['check', 'rules', 'rules.yaml'], {
      'rules.yaml': { groups: broken },
    });
    expect(result.code).not.toBe(0);
  });

  it('has a severity, a summary and description naming the ring, and a runbook section for each alert', () => {
    const runbook = readFileSync(new URL('../docs/monitoring.md', import.meta.url), 'utf8');
    const headings = new Set(
      [...runbook.matchAll(/^### (\w+)$/gm)].map(([, heading = '']) => heading.toLowerCase()),
    );
    expect(alerts.filter((rule) => /by \(ring\b/.test(rule.expr))).toHaveLength(alerts.length - 1);
    for (const rule of alerts) {
      expect(['critical', 'warning', 'info']).toContain(rule.labels.severity);
      // An alert per ring (its expression aggregates by ring) says which ring.
      if (/by \(ring\b/.test(rule.expr)) {
        expect(rule.annotations.summary).toContain('{{ $labels.ring }}');
        expect(rule.annotations.description).toContain('{{ $labels.ring }}');
      }
      const anchor = /#(\w+)$/.exec(rule.annotations.runbook_url)?.[1] ?? '';
      expect({ alert: rule.alert, section: headings.has(anchor) }).toEqual({
        alert: rule.alert,
        section: true,
      });
    }
  });

  it('has dashboard queries that all parse (checked as recording rules by promtool)', async () => {
    expect(dashboardQueries.length).toBeGreaterThan(20);
    const rules = dashboardQueries.map((expr, index) => ({ record: `dashboard:query_${index}`, expr }));
    const result = await promtool(binary, ['check', 'rules', 'dashboard.yaml'], {
      'dashboard.yaml': { groups: [{ name: 'dashboard', rules }] },
    });
    expect({ code: result.code, output: result.stdout + result.stderr }).toEqual({
      code: 0,
      output: expect.stringContaining(`SUCCESS: ${rules.length} rules found`) as unknown,
    });
  });

  it('reads only metrics that docs/ documents', () => {
    const docs = readdirSync(new URL('../docs/', import.meta.url), { recursive: true, encoding: 'utf8' })
      .filter((path) => path.endsWith('.md') && path !== 'monitoring.md')
      .map((path) => readFileSync(new URL(`../docs/${path}`, import.meta.url), 'utf8'))
      .join('\n');
    const used = new Set([...alerts.map((rule) => rule.expr), ...dashboardQueries].flatMap(metricNames));
    expect(used.size).toBeGreaterThan(15);
    expect([...used].filter((name) => !new RegExp(`\\b${name}\\b`).test(docs)).sort()).toEqual([]);
  });

  it('has a dashboard ConfigMap for the sidecar that holds the dashboard file', () => {
    const [configMap] = objects('monitoring/grafana-dashboard.yaml');
    expect(configMap).toMatchObject({
      kind: 'ConfigMap',
      metadata: { namespace: 'controller-rings-system', labels: { grafana_dashboard: '1' } },
      data: { [dashboardFileName]: rendered.get('monitoring/controller-rings-dashboard.json') },
    });
    const ids = dashboard.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("scrapes the sharder's metrics Service by its port", () => {
    const services = objects('sharder/sharder.yaml').filter((object) => object.kind === 'Service');
    const [serviceMonitor] = objects('monitoring/servicemonitor.yaml');
    const selected = services.filter((service) =>
      Object.entries(serviceMonitor?.spec?.selector?.matchLabels ?? {}).every(
        ([key, value]) => service.metadata.labels?.[key] === value,
      ),
    );
    const port = serviceMonitor?.spec?.endpoints?.[0]?.port;
    const scraped = selected.filter((service) =>
      (service.spec?.ports ?? []).some((candidate) => candidate.name === port),
    );
    expect(scraped.map((service) => service.metadata.name)).toEqual(['controller-rings-sharder-metrics']);
    expect(serviceMonitor?.spec?.namespaceSelector).toEqual({ matchNames: ['controller-rings-system'] });
  });

  it('follows a Sharder of another namespace, and the labels a Prometheus selects', () => {
    const chart = new Chart(new App(), 'test');
    const sharder = new Sharder(chart, 'sharder', { image: 'image', namespace: 'sharding' });
    const monitoring = new SharderMonitoring(chart, 'monitoring', {
      sharder,
      namespace: 'monitoring',
      labels: { release: 'prometheus' },
      dashboard: { namespace: 'grafana', labels: { dashboards: 'platform' } },
    });
    const json = chart.toJson() as Manifest[];
    const byKind = (kind: string) =>
      json.filter((object) => object.metadata.name.startsWith('controller-rings') && object.kind === kind);
    expect(byKind('ServiceMonitor')[0]).toMatchObject({
      metadata: { namespace: 'monitoring', labels: { release: 'prometheus' } },
      spec: { namespaceSelector: { matchNames: ['sharding'] } },
    });
    expect(byKind('PrometheusRule')[0]?.metadata).toMatchObject({
      namespace: 'monitoring',
      labels: { release: 'prometheus' },
    });
    expect(
      byKind('ConfigMap').find((object) => object.metadata.name.endsWith('-dashboard'))?.metadata,
    ).toMatchObject({
      namespace: 'grafana',
      labels: { dashboards: 'platform' },
    });
    expect(
      monitoring.ruleGroups
        .flatMap((group) => group.rules)
        .every((rule) => rule.expr.includes('namespace="sharding"')),
    ).toBe(true);
  });
});
