// The pods that run the image in a cluster, as the release manifests define them: the sharder's Deployment in
// config/ and the example's in examples/configmap-digest/deploy/ (as `npm run synth` renders them now).
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { renderConfig } from '../../cdk8s/app.ts';
import { yamlDocuments } from '../../cdk8s/generated-files.ts';
import { sharderName } from '../../cdk8s/names.ts';
import { renderExampleManifests, ring } from '../../examples/configmap-digest/manifests.ts';

export interface ImagePod {
  pod: IPodSpec;
  container: IContainer;
}

function deploymentPod(yaml: string | undefined, name: string): ImagePod {
  const deployment = (yamlDocuments(yaml ?? '') as { kind?: string; metadata?: { name?: string } }[]).find(
    (object) => object.kind === 'Deployment' && object.metadata?.name === name,
  ) as IDeployment | undefined;
  const pod = deployment?.spec?.template.spec;
  const container = pod?.containers[0];
  if (pod === undefined || container === undefined) throw new Error(`no Deployment ${name} with a container`);
  return { pod, container };
}

/** The sharder's pod in config/sharder/sharder.yaml. */
export function sharderPod(): ImagePod {
  return deploymentPod(renderConfig().get('sharder/sharder.yaml'), sharderName);
}

/** The example shard's pod in examples/configmap-digest/deploy/. */
export function exampleShardPod(): ImagePod {
  return deploymentPod(renderExampleManifests().get(`${ring}.yaml`), ring);
}
