// Installs the project's CRDs from crds/ by server-side apply and waits until the API server serves them.
import { readdir, readFile } from 'node:fs/promises';
import {
  ApiextensionsV1Api,
  type KubeConfig,
  KubernetesObjectApi,
  loadAllYaml,
  PatchStrategy,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { eventually } from './eventually.ts';

const crdDirectory = new URL('../../crds/', import.meta.url);

export async function readCrds(): Promise<V1CustomResourceDefinition[]> {
  const files = (await readdir(crdDirectory)).filter((name) => name.endsWith('.yaml')).sort();
  const texts = await Promise.all(files.map((name) => readFile(new URL(name, crdDirectory), 'utf8')));
  // The client's typed serializer writes only the model's own (camelCase) fields: raw YAML keys such as
  // x-kubernetes-validations would be dropped silently. loadAllYaml maps them onto the model first.
  return texts.flatMap((text) => loadAllYaml(text) as V1CustomResourceDefinition[]);
}

export async function installCrds(kubeConfig: KubeConfig): Promise<void> {
  const objects = KubernetesObjectApi.makeApiClient(kubeConfig);
  const extensions = kubeConfig.makeApiClient(ApiextensionsV1Api);
  for (const crd of await readCrds()) {
    await objects.patch(crd, undefined, undefined, 'controller-rings', true, PatchStrategy.ServerSideApply);
    const name = crd.metadata?.name ?? '';
    await eventually(async () => {
      const served = await extensions.readCustomResourceDefinition({ name });
      const established = served.status?.conditions?.find((c) => c.type === 'Established');
      if (established?.status !== 'True') throw new Error(`CRD ${name} is not established`);
    });
  }
}
