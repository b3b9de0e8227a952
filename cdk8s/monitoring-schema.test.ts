// The ServiceMonitor and the PrometheusRule of config/monitoring/ against prometheus-operator's CRD schemas (the
// OpenAPI schemas of its CRDs, as @kubernetes-models/prometheus-operator ships and checks them): what the API
// server of a cluster with those CRDs would reject fails here.
import { describe, expect, it } from '@jest/globals';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import type { IPrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { renderConfig } from './app.ts';
import { yamlDocuments } from './generated-files.ts';

const rendered = renderConfig();
const [serviceMonitor] = yamlDocuments(
  rendered.get('monitoring/servicemonitor.yaml') ?? '',
) as IServiceMonitor[];
const [prometheusRule] = yamlDocuments(
  rendered.get('monitoring/prometheusrule.yaml') ?? '',
) as IPrometheusRule[];

describe("config/monitoring/ against prometheus-operator's CRD schemas", () => {
  it('has a valid ServiceMonitor', () => {
    expect(serviceMonitor?.kind).toBe('ServiceMonitor');
    expect(() => {
      new ServiceMonitor(serviceMonitor).validate();
    }).not.toThrow();
  });

  it('has a valid PrometheusRule', () => {
    expect(prometheusRule?.kind).toBe('PrometheusRule');
    expect(() => {
      new PrometheusRule(prometheusRule).validate();
    }).not.toThrow();
  });

  it('rejects what the CRD rejects (the check can fail)', () => {
    const [group] = prometheusRule?.spec.groups ?? [];
    const rule = group?.rules?.[0];
    const invalid = {
      ...prometheusRule,
      spec: { groups: [{ ...group, rules: [{ ...rule, for: '5 minutes' }] }] },
    };
    expect(() => {
      new PrometheusRule(invalid as IPrometheusRule).validate();
    }).toThrow(/for must match pattern/);
  });
});
