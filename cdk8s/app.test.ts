// config/ is what users apply: it must be exactly what the app synthesizes now, and embed the CRD unchanged.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { parse, parseAllDocuments } from 'yaml';
import { configDirectory, renderConfig } from './app.ts';
import { controllerRingHealthScript } from './argocd.ts';
import { crdFile } from './controllerring-crd.ts';

const root = fileURLToPath(configDirectory);

function committedFiles(): Map<string, string> {
  const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  return new Map(
    files.map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return [relative(root, path), readFileSync(path, 'utf8')];
    }),
  );
}

function documents(text: string): unknown[] {
  return parseAllDocuments(text).map((document) => document.toJS() as unknown);
}

describe('config/', () => {
  const rendered = renderConfig();

  it('is what the cdk8s app synthesizes', () => {
    const committed = committedFiles();
    const paths = new Set([...rendered.keys(), ...committed.keys()]);
    const stale = [...paths].filter((path) => rendered.get(path) !== committed.get(path)).sort();
    if (stale.length > 0) {
      throw new Error(`config/ differs from the cdk8s app in ${stale.join(', ')}: run npm run synth`);
    }
  });

  it('embeds the ControllerRing CRD from crds/ unchanged', () => {
    const crd = rendered.get('crd/controllerrings.yaml') ?? '';
    expect(documents(crd)).toEqual([parse(readFileSync(crdFile, 'utf8'))]);
  });

  it('lists its manifests in a kustomization, without the Argo CD configuration', () => {
    const [kustomization] = documents(rendered.get('kustomization.yaml') ?? '');
    expect(kustomization).toMatchObject({ resources: ['crd/controllerrings.yaml', 'sharder/sharder.yaml'] });
  });

  it('carries the health check under the key Argo CD reads', () => {
    const [configMap] = documents(rendered.get('argocd/argocd-cm.yaml') ?? '');
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
