// The admin kubeconfig of the control plane that test/setup/global-setup.ts started.
import { KubeConfig } from '@kubernetes/client-node';
import { KubeconfigAccess, readKubeconfig } from '../../runtime/kubeconfig.ts';

export function testKubeConfig(): KubeConfig {
  const path = process.env.KUBECONFIG;
  if (path === undefined)
    throw new Error('KUBECONFIG is not set: run integration tests through jest (npm test)');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}

/** The same kubeconfig through the sharder's light loader (runtime/kubeconfig.ts) instead of client-node. */
export function testClusterAccess(): KubeconfigAccess {
  const path = process.env.KUBECONFIG;
  if (path === undefined)
    throw new Error('KUBECONFIG is not set: run integration tests through jest (npm test)');
  return new KubeconfigAccess(readKubeconfig(path));
}

/** A kubeconfig of one cluster (named test) and one user, its current context: for files the tests write. */
export function kubeconfigDocument(cluster: object, userName: string, user: object): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster }],
    users: [{ name: userName, user }],
    contexts: [{ name: userName, context: { cluster: 'test', user: userName } }],
    'current-context': userName,
  };
}
