// The kubeconfig a program (the sharder, kubectl-rings) reaches its cluster with, found as client-node's loadFromDefault finds one
// (--kubeconfig, else the files in KUBECONFIG, else ~/.kube/config, else the pod's service account) and
// checked before use: a missing file or one without a current cluster stops the program with a message
// naming where the kubeconfig came from, rather than a stack trace or requests retried forever.
//
// Read by runtime/kubeconfig.ts, not client-node, whose import costs the process ~85 MiB: client-node is loaded
// only for a user that logs in with an exec or auth-provider plugin, which only it runs.
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  currentContext,
  inClusterKubeconfig,
  KubeconfigAccess,
  mergeKubeconfigs,
  needsPlugin,
  readKubeconfig,
  serviceAccountDirectory,
  type Kubeconfig,
} from './kubeconfig.ts';
import type { ClusterAccess } from './rest.ts';
import { ConfigError, unreadable } from './config-error.ts';

export interface KubeConfigSources {
  /** --kubeconfig, if given. */
  flag: string | undefined;
  env: NodeJS.ProcessEnv;
  /** The home directory, for ~/.kube/config. */
  home: string;
  /** The pod's service account: its token and ca.crt. */
  serviceAccount?: string;
  /** A context to use instead of the kubeconfig's current-context (kubectl's --context). */
  context?: string;
}

/** A file system error (YAML's parse errors have a code too, but no system call). */
function isErrno(error: unknown): error is NodeJS.ErrnoException {
  return typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

function loadFiles(source: string, files: string[]): Kubeconfig {
  let merged: Kubeconfig | undefined;
  for (const file of files) {
    let config: Kubeconfig;
    try {
      config = readKubeconfig(file);
    } catch (error) {
      const problem = isErrno(error)
        ? unreadable(file, error)
        : `${file} is not a valid kubeconfig: ${(error as Error).message}`;
      throw new ConfigError(`${source}: ${problem}`);
    }
    // As loadFromDefault merges the files of KUBECONFIG: the last current-context wins.
    try {
      merged = merged === undefined ? config : mergeKubeconfigs(merged, config);
    } catch (error) {
      throw new ConfigError(`${source}: ${file}: ${(error as Error).message}`);
    }
  }
  return merged ?? { clusters: [], users: [], contexts: [] };
}

/** That the current context names a cluster with a server URL, and a user where it names one. */
function checkCurrentCluster(source: string, where: string, config: Kubeconfig): void {
  const fail = (message: string): never => {
    throw new ConfigError(`${source}: ${where} ${message}`);
  };
  const name = config.currentContext;
  if (!name) fail('sets no current-context');
  const { context, cluster, user } = currentContext(config);
  if (context === undefined) return fail(`has no context "${name}" (its current-context)`);
  if (cluster === undefined)
    return fail(`has no cluster "${context.cluster}" (of its current context "${name}")`);
  if (context.user !== undefined && user === undefined)
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

/** client-node's KubeConfig of the same content, for the plugins only it runs (loaded only then). */
async function pluginKubeConfig(config: Kubeconfig): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: config.clusters,
    // client-node reads a token file once, when it loads the kubeconfig, and sends it after the plugin's.
    users: config.users.map(({ tokenFile, ...user }) => ({
      ...user,
      token: user.token ?? (tokenFile === undefined ? undefined : readFileSync(tokenFile, 'utf8')),
    })),
    contexts: config.contexts.map((context) => ({ ...context, user: context.user ?? '' })),
    currentContext: config.currentContext,
  });
  return kubeConfig;
}

/** The access for `config`'s current context; a file it names that cannot be read is a ConfigError. */
async function access(source: string, where: string, config: Kubeconfig): Promise<ClusterAccess> {
  try {
    return needsPlugin(config) ? await pluginKubeConfig(config) : new KubeconfigAccess(config);
  } catch (error) {
    if (!isErrno(error) || error.path === undefined) throw error;
    throw new ConfigError(`${source}: ${where}: ${unreadable(error.path, error)}`);
  }
}

/** Loads and checks the kubeconfig; throws ConfigError naming --kubeconfig or KUBECONFIG. */
export async function loadKubeConfig({
  flag,
  env,
  home,
  serviceAccount = serviceAccountDirectory,
  context,
}: KubeConfigSources): Promise<ClusterAccess> {
  const fromEnv = (env.KUBECONFIG ?? '').split(delimiter).filter((file) => file !== '');
  const homeConfig = join(home, '.kube', 'config');
  let source = '--kubeconfig';
  let files: string[];
  if (flag !== undefined) files = [flag];
  else if (fromEnv.length > 0) {
    source = 'KUBECONFIG';
    files = fromEnv;
  } else if (existsSync(homeConfig)) files = [homeConfig];
  else if (existsSync(join(serviceAccount, 'token'))) {
    const host = env.KUBERNETES_SERVICE_HOST;
    const port = env.KUBERNETES_SERVICE_PORT;
    if (!host || !port) {
      throw new ConfigError(
        '--kubeconfig: not given, and KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set ' +
          'for the in-cluster configuration',
      );
    }
    return access(
      '--kubeconfig',
      'the in-cluster configuration',
      inClusterKubeconfig(host, port, serviceAccount),
    );
  } else {
    throw new ConfigError(
      `--kubeconfig: is required: KUBECONFIG is not set, ${homeConfig} does not exist, ` +
        'and this is not a pod with a service account',
    );
  }
  const loaded = loadFiles(source, files);
  const where = files.join(delimiter);
  if (context !== undefined && !loaded.contexts.some(({ name }) => name === context))
    throw new ConfigError(`--context: ${where} has no context "${context}"`);
  const config = context === undefined ? loaded : { ...loaded, currentContext: context };
  checkCurrentCluster(source, where, config);
  return access(source, where, config);
}
