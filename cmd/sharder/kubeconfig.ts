// The kubeconfig the sharder reaches its cluster with, found as client-node's loadFromDefault finds one
// (--kubeconfig, else the files in KUBECONFIG, else ~/.kube/config, else the pod's service account) and
// checked before use: a missing file or one without a current cluster stops the sharder with a message
// naming where the kubeconfig came from, rather than a stack trace or requests retried forever.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ConfigError, unreadable } from './config.ts';

const serviceAccountToken = '/var/run/secrets/kubernetes.io/serviceaccount/token';

export interface KubeConfigSources {
  /** --kubeconfig, if given. */
  flag: string | undefined;
  env: NodeJS.ProcessEnv;
  /** The home directory, for ~/.kube/config. */
  home: string;
}

function loadFiles(source: string, files: string[]): KubeConfig {
  const merged = new KubeConfig();
  files.forEach((file, index) => {
    const kubeConfig = index === 0 ? merged : new KubeConfig();
    try {
      kubeConfig.loadFromFile(file);
    } catch (error) {
      const problem =
        (error as NodeJS.ErrnoException).code === undefined
          ? `${file} is not a valid kubeconfig: ${(error as Error).message}`
          : unreadable(file, error);
      throw new ConfigError(`${source}: ${problem}`);
    }
    // As loadFromDefault merges the files of KUBECONFIG: the last current-context wins.
    if (kubeConfig !== merged) {
      try {
        merged.mergeConfig(kubeConfig);
      } catch (error) {
        throw new ConfigError(`${source}: ${file}: ${(error as Error).message}`);
      }
    }
  });
  return merged;
}

/** That the current context names a cluster with a server URL, and a user where it names one. */
function checkCurrentCluster(source: string, where: string, kubeConfig: KubeConfig): void {
  const fail = (message: string): never => {
    throw new ConfigError(`${source}: ${where} ${message}`);
  };
  const name = kubeConfig.getCurrentContext();
  if (!name) fail('sets no current-context');
  const context = kubeConfig.getContextObject(name) ?? fail(`has no context "${name}" (its current-context)`);
  const cluster =
    kubeConfig.getCluster(context.cluster) ??
    fail(`has no cluster "${context.cluster}" (of its current context "${name}")`);
  if (context.user && kubeConfig.getUser(context.user) === null)
    fail(`has no user "${context.user}" (of its current context "${name}")`);
  let protocol: string | undefined;
  try {
    protocol = new URL(cluster.server).protocol;
  } catch {
    // Reported below.
  }
  if (protocol !== 'https:' && protocol !== 'http:')
    fail(`has no http(s) URL as the server of cluster "${cluster.name}": "${cluster.server}"`);
}

/** Loads and checks the kubeconfig; throws ConfigError naming --kubeconfig or KUBECONFIG. */
export function loadKubeConfig({ flag, env, home }: KubeConfigSources): KubeConfig {
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '');
  const homeConfig = join(home, '.kube', 'config');
  let source = '--kubeconfig';
  let files: string[];
  if (flag !== undefined) files = [flag];
  else if (fromEnv.length > 0) {
    source = 'KUBECONFIG';
    files = fromEnv;
  } else if (existsSync(homeConfig)) files = [homeConfig];
  else if (existsSync(serviceAccountToken)) {
    if (!env.KUBERNETES_SERVICE_HOST || !env.KUBERNETES_SERVICE_PORT) {
      throw new ConfigError(
        '--kubeconfig: not given, and KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set ' +
          'for the in-cluster configuration',
      );
    }
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromCluster();
    return kubeConfig;
  } else {
    throw new ConfigError(
      `--kubeconfig: is required: KUBECONFIG is not set, ${homeConfig} does not exist, ` +
        'and this is not a pod with a service account',
    );
  }
  const kubeConfig = loadFiles(source, files);
  checkCurrentCluster(source, files.join(delimiter), kubeConfig);
  return kubeConfig;
}
