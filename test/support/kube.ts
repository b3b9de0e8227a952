// The admin KubeConfig of the control plane that test/setup/global-setup.ts started.
import { KubeConfig } from '@kubernetes/client-node';

export function testKubeConfig(): KubeConfig {
  const path = process.env.KUBECONFIG;
  if (path === undefined)
    throw new Error('KUBECONFIG is not set: run integration tests through jest (npm test)');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}
