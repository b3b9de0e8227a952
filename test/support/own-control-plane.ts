// A control plane of a test file's own, with the CRDs installed: for tests that run sharders, which act on
// every ring in their cluster and so must not share one with other test files.
import { KubeConfig } from '@kubernetes/client-node';
import { RestClient } from '../../runtime/rest.ts';
import { startControlPlane, type ControlPlane } from '../control-plane/control-plane.ts';
import type { ControlPlaneOptions } from '../control-plane/launch.ts';
import { installCrds } from './crds.ts';

export interface TestCluster {
  controlPlane: ControlPlane;
  kubeConfig: KubeConfig;
  rest: RestClient;
  stop(): Promise<void>;
}

/** `auditLog`: the API server logs every write request (ControlPlane.auditLogPath). */
export async function startTestCluster(options: ControlPlaneOptions = {}): Promise<TestCluster> {
  const controlPlane = await startControlPlane(options);
  try {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(controlPlane.kubeconfigPath);
    await installCrds(kubeConfig);
    const rest = new RestClient(kubeConfig);
    return {
      controlPlane,
      kubeConfig,
      rest,
      stop: async () => {
        rest.close();
        await controlPlane.stop();
      },
    };
  } catch (error) {
    await controlPlane.stop();
    throw error;
  }
}
