// Starts one real control plane for the integration suites and installs the CRDs; its kubeconfig reaches the
// test workers through KUBECONFIG. The control plane stops in global-teardown.ts, or with this process.
import { KubeConfig } from '@kubernetes/client-node';
import { startControlPlane } from '../control-plane/control-plane.ts';
import { installCrds } from '../support/crds.ts';

export default async function globalSetup(): Promise<void> {
  const controlPlane = await startControlPlane();
  globalThis.controlPlane = controlPlane;
  process.env.KUBECONFIG = controlPlane.kubeconfigPath;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(controlPlane.kubeconfigPath);
  await installCrds(kubeConfig);
}
