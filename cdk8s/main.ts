// npm run synth: rewrites every folder of generated manifests from its cdk8s app.
import { fileURLToPath } from 'node:url';
import { configMapDigestDeploy } from '../examples/configmap-digest/manifests.ts';
import { config } from './app.ts';
import { writeGeneratedFiles } from './generated-files.ts';

for (const { directory, render } of [config, configMapDigestDeploy]) {
  const files = render();
  writeGeneratedFiles(directory, files);
  console.log(`wrote ${files.size} files to ${fileURLToPath(directory)}`);
}
