// Runs the sharder program (cmd/sharder/main.ts) as real child processes against a test control plane, with
// a webhook serving certificate for 127.0.0.1 that all replicas of one test share, in files or (the sharder's
// default) in a Secret the sharder manages; or replicas from the image, as its Deployment runs them
// (startSharderContainer).
import { chmod, chown, copyFile, mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { createCertificateAuthority } from '../../runtime/certificates.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { ManagedProcess } from '../control-plane/process.ts';
import { ContainerProcess } from './container.ts';
import { podmanRunArgs, type ContainerRun } from './pod-container.ts';
import { freePort } from './ports.ts';

const sharderMain = fileURLToPath(new URL('../../cmd/sharder/main.ts', import.meta.url));

export interface WebhookFiles {
  dir: string;
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** A CA and a serving certificate for 127.0.0.1, written to a temp dir (which also takes the logs). */
export async function webhookCertificates(): Promise<WebhookFiles> {
  const dir = await mkdtemp(join(tmpdir(), 'sharder-test-'));
  const authority = await createCertificateAuthority('sharder-test-ca');
  const serving = await authority.sign({
    commonName: 'sharder',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  const files = {
    dir,
    certFile: join(dir, 'tls.crt'),
    keyFile: join(dir, 'tls.key'),
    caFile: join(dir, 'ca.crt'),
  };
  await Promise.all([
    writeFile(files.certFile, serving.certificate),
    writeFile(files.keyFile, serving.privateKey),
    writeFile(files.caFile, authority.certificate),
  ]);
  return files;
}

/** Whether GET http://127.0.0.1:<port><path> answers 200. */
export function httpOk(port: number, path: string): Promise<boolean> {
  return new Promise((resolve) => {
    request(`http://127.0.0.1:${port}${path}`, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    })
      .on('error', () => {
        resolve(false);
      })
      .end();
  });
}

/** Leader election in seconds rather than the production 15 s, so a killed leader is replaced quickly. */
export const quickLeaderElection = [
  '--leader-election-lease-duration=4s',
  '--leader-election-renew-deadline=3s',
  '--leader-election-retry-period=500ms',
];

/** Sharder-managed certificates: a Secret in the sharder's namespace (default: the sharder's default name). */
export interface ManagedWebhookCertificates {
  /** Takes the logs. */
  dir: string;
  secret?: string;
}

/** A temp dir for the logs of sharders that manage their certificates. */
export async function managedCertificates(secret?: string): Promise<ManagedWebhookCertificates> {
  return { dir: await mkdtemp(join(tmpdir(), 'sharder-test-')), ...(secret === undefined ? {} : { secret }) };
}

function certificateArgs(certificates: WebhookFiles | ManagedWebhookCertificates): string[] {
  if ('certFile' in certificates) {
    return [
      `--webhook-cert-file=${certificates.certFile}`,
      `--webhook-key-file=${certificates.keyFile}`,
      `--webhook-ca-file=${certificates.caFile}`,
    ];
  }
  return certificates.secret === undefined ? [] : [`--webhook-certificate-secret=${certificates.secret}`];
}

export interface SharderProcess extends ManagedProcess {
  identity: string;
  webhookPort: number;
  probePort: number;
}

export interface SharderOptions {
  kubeconfigPath: string;
  namespace: string;
  identity: string;
  certificates: WebhookFiles | ManagedWebhookCertificates;
  /** Where the API server calls the webhook; default this replica's own webhook port. */
  webhookUrl?: string;
  args?: string[];
  /** Options of node itself, such as --max-old-space-size. */
  nodeArgs?: string[];
  /** Environment variables on top of this process's, e.g. glibc's MALLOC_ARENA_MAX. */
  env?: Readonly<Record<string, string>>;
  /** The sharder's main module; default this checkout's (a benchmark runs an older one beside it). */
  program?: string;
}

/** Starts one sharder replica and waits until it is ready. */
export async function startSharder(options: SharderOptions): Promise<SharderProcess> {
  const [webhookPort, probePort] = await Promise.all([freePort(), freePort()]);
  const { certificates } = options;
  const sharder = new ManagedProcess(
    options.identity,
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      options.program ?? sharderMain,
      `--kubeconfig=${options.kubeconfigPath}`,
      `--namespace=${options.namespace}`,
      `--identity=${options.identity}`,
      `--webhook-bind-address=127.0.0.1:${webhookPort}`,
      `--webhook-url=${options.webhookUrl ?? `https://127.0.0.1:${webhookPort}`}`,
      ...certificateArgs(certificates),
      `--health-probe-bind-address=127.0.0.1:${probePort}`,
      // Metrics on the probe port: one server serves both.
      `--metrics-bind-address=127.0.0.1:${probePort}`,
      '--log-format=json',
      '--log-level=debug',
      ...(options.args ?? []),
    ],
    join(certificates.dir, `${options.identity}.log`),
    options.env,
  );
  await ready(sharder, probePort);
  return Object.assign(sharder, { identity: options.identity, webhookPort, probePort });
}

/** Waits until the replica is ready; kills it if it does not get there. */
async function ready(sharder: ManagedProcess, probePort: number): Promise<void> {
  try {
    await sharder.waitUntil(() => httpOk(probePort, '/readyz'), 30_000);
  } catch (error) {
    await sharder.kill();
    throw error;
  }
}

export interface SharderContainerOptions extends Omit<SharderOptions, 'nodeArgs' | 'env' | 'program'> {
  image: string;
  /** The sharder's pod and container in its Deployment (test/support/image-pods.ts). */
  pod: Pick<ContainerRun, 'pod' | 'container'>;
}

/** A file readable by the containers' user only through the pod's fsGroup, as a mounted Secret's key is. */
async function podFile(source: string, target: string, fsGroup: number): Promise<string> {
  await copyFile(source, target);
  await chmod(target, 0o440);
  await chown(target, 0, fsGroup);
  return target;
}

/**
 * Starts one sharder replica from the image, as its Deployment's pod runs it (user, read-only root, env from
 * the downward API, args, memory limit and the heap limit derived from it), and waits until it is ready. The
 * test changes what a pod gets from the cluster: the API server through a kubeconfig instead of in-cluster
 * config, addresses on the host network, and the webhook through the test's service by URL; `args` (flags of
 * the form --name=value) replace the Deployment's flags of the same name or are added.
 */
export async function startSharderContainer(
  options: SharderContainerOptions,
): Promise<ContainerProcess & SharderProcess> {
  const [webhookPort, probePort] = await Promise.all([freePort(), freePort()]);
  const { certificates } = options;
  const { pod, container } = options.pod;
  const fsGroup = pod.securityContext?.fsGroup ?? 0;
  const dir = await mkdtemp(join(certificates.dir, `${options.identity}-pod-`));
  await chmod(dir, 0o755);
  const kubeconfig = await podFile(options.kubeconfigPath, join(dir, 'kubeconfig'), fsGroup);
  const kubeconfigPath = '/etc/controller-rings/kubeconfig';
  const flags: Record<string, string | undefined> = {
    kubeconfig: kubeconfigPath,
    'webhook-bind-address': `127.0.0.1:${webhookPort}`,
    'webhook-service': undefined,
    'webhook-url': options.webhookUrl ?? `https://127.0.0.1:${webhookPort}`,
    'health-probe-bind-address': `127.0.0.1:${probePort}`,
    // Metrics on the probe port: one server serves both.
    'metrics-bind-address': `127.0.0.1:${probePort}`,
    'log-format': 'json',
    'log-level': 'debug',
  };
  for (const arg of options.args ?? []) {
    const [name, value] = arg.replace(/^--/, '').split(/=(.*)/s);
    if (name === undefined || value === undefined)
      throw new Error(`startSharderContainer: ${arg} is not --name=value`);
    flags[name] = value;
  }
  const args = podmanRunArgs({
    pod,
    container,
    identity: { name: options.identity, namespace: options.namespace },
    image: options.image,
    flags,
    mounts: [{ host: kubeconfig, container: kubeconfigPath }],
  });
  const sharder = new ContainerProcess(
    options.identity,
    args,
    join(certificates.dir, `${options.identity}.log`),
  );
  await ready(sharder, probePort);
  await sharder.started();
  return Object.assign(sharder, { identity: options.identity, webhookPort, probePort });
}

/** The replica that holds the leader Lease of the sharders in `namespace` (the default Lease name). */
export async function sharderLeader(rest: RestClient, namespace: string): Promise<string | undefined> {
  const lease = await rest.request<ILease>({
    path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/controller-rings-sharder`,
  });
  return lease.spec?.holderIdentity;
}
