// The Argo CD health check for ControllerRings: the Lua script and the argocd-cm key it goes under.
import { readFileSync } from 'node:fs';
import { Construct } from 'constructs';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { group, kind } from '../api/v1alpha1/index.ts';
import { define } from './api-object.ts';

export const healthCheckKey = `resource.customizations.health.${group}_${kind}`;

export function controllerRingHealthScript(): string {
  return readFileSync(new URL('./argocd/controllerring-health.lua', import.meta.url), 'utf8');
}

/** argocd-cm with the health check only: a patch to merge into Argo CD's ConfigMap, not a replacement. */
export class ArgoCdHealthCheck extends Construct {
  constructor(scope: Construct, id: string, props: { namespace?: string } = {}) {
    super(scope, id);
    define(this, 'argocd-cm', {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: {
        name: 'argocd-cm',
        namespace: props.namespace ?? 'argocd',
        labels: { 'app.kubernetes.io/name': 'argocd-cm', 'app.kubernetes.io/part-of': 'argocd' },
      },
      data: { [healthCheckKey]: controllerRingHealthScript() },
    } satisfies IConfigMap);
  }
}
