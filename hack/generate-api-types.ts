// Generates api/v1alpha1/controllerring.generated.ts from the CRD's openAPIV3Schema: the CRD YAML in crds/
// is the single source of the API. `npm run generate` writes the file; `--check` fails when it is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { compile } from 'json-schema-to-typescript';
import { parse } from 'yaml';

export const crdPath = new URL('../crds/sharding.controller-rings.io_controllerrings.yaml', import.meta.url);
export const generatedPath = new URL('../api/v1alpha1/controllerring.generated.ts', import.meta.url);

interface CustomResourceDefinition {
  spec: { versions: { name: string; schema: { openAPIV3Schema: Record<string, unknown> } }[] };
}

/** Renders the TypeScript types of the CRD's v1alpha1 schema. */
export async function renderApiTypes(): Promise<string> {
  const crd = parse(await readFile(crdPath, 'utf8')) as CustomResourceDefinition;
  const version = crd.spec.versions.find((v) => v.name === 'v1alpha1');
  if (!version) throw new Error(`${crdPath.pathname} has no v1alpha1 version`);
  const schema = structuredClone(version.schema.openAPIV3Schema);
  // The API machinery owns these fields; give them the real Kubernetes types instead of open objects.
  const properties = schema.properties as Record<string, Record<string, unknown>>;
  properties.metadata = { tsType: 'IObjectMeta' };
  return compile(schema, 'ControllerRing', {
    additionalProperties: false,
    ignoreMinAndMaxItems: true,
    bannerComment:
      '/* Generated from crds/sharding.controller-rings.io_controllerrings.yaml by `npm run generate`. Do not edit. */\n' +
      "import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';",
    format: true,
    style: { singleQuote: true, printWidth: 110, trailingComma: 'all' },
  });
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const rendered = await renderApiTypes();
  if (process.argv.includes('--check')) {
    const current = await readFile(generatedPath, 'utf8').catch(() => '');
    if (current !== rendered) {
      console.error(`${generatedPath.pathname} is out of date with the CRD: run npm run generate`);
      process.exit(1);
    }
  } else {
    await writeFile(generatedPath, rendered);
  }
}
