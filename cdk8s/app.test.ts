// config/ is what users apply: it must be exactly what the app synthesizes now, and embed the CRD unchanged.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { config, renderConfig } from './app.ts';
import { controllerRingHealthScript } from './argocd.ts';
import { crdFile } from './controllerring-crd.ts';
import { assertSynthesized, yamlDocuments } from './generated-files.ts';

describe('config/', () => {
  const rendered = renderConfig();

  it('is what the cdk8s app synthesizes', () => {
    assertSynthesized(config);
  });

  it('embeds the ControllerRing CRD from crds/ unchanged', () => {
    const crd = rendered.get('crd/controllerrings.yaml') ?? '';
    expect(yamlDocuments(crd)).toEqual([parse(readFileSync(crdFile, 'utf8'))]);
  });

  it('lists its manifests in a kustomization, without the Argo CD configuration', () => {
    const [kustomization] = yamlDocuments(rendered.get('kustomization.yaml') ?? '');
    expect(kustomization).toMatchObject({ resources: ['crd/controllerrings.yaml', 'sharder/sharder.yaml'] });
  });

  it('has the CRD and the sharder in one install.yaml, the CRD first', () => {
    expect(yamlDocuments(rendered.get('install.yaml') ?? '')).toEqual([
      ...yamlDocuments(rendered.get('crd/controllerrings.yaml') ?? ''),
      ...yamlDocuments(rendered.get('sharder/sharder.yaml') ?? ''),
    ]);
  });

  it('carries the health check under the key Argo CD reads', () => {
    const [configMap] = yamlDocuments(rendered.get('argocd/argocd-cm.yaml') ?? '');
    expect(configMap).toMatchObject({
      kind: 'ConfigMap',
      metadata: { name: 'argocd-cm', namespace: 'argocd' },
      data: {
        'resource.customizations.health.sharding.controller-rings.io_ControllerRing':
          controllerRingHealthScript(),
      },
    });
  });
});
