// Starts etcd, kube-apiserver and kube-controller-manager on free 127.0.0.1 ports, with generated certificates,
// service-account keys, RBAC authorization and an admin kubeconfig, the way envtest does (plus the controller
// manager, so that owner-reference garbage collection and namespace deletion work as in a cluster).
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { createCertificateAuthority, createSigningKeyPair } from '../../runtime/certificates.ts';
import type { Binaries } from './binaries.ts';
import { freePort } from '../support/ports.ts';
import { ManagedProcess } from './process.ts';

export interface ControlPlaneEndpoints {
  /** The API server's URL, https://127.0.0.1:<port>. */
  server: string;
  /** Admin kubeconfig (group system:masters). */
  kubeconfigPath: string;
  /** PEM of the CA that signed the API server's certificate. */
  caCertificatePath: string;
  /** etcd's client URL, http://127.0.0.1:<port>, for tests that act on etcd itself (e.g. compact it). */
  etcdUrl: string;
  /** With ControlPlaneOptions.auditLog: the API server's audit log, one JSON event per line. */
  auditLogPath?: string;
}

export interface ControlPlaneOptions {
  /** Extra kube-apiserver flags, after the defaults (a later flag wins), kept across restarts. */
  apiServerArgs?: string[];
  /**
   * Writes the API server's audit log: every write request (not reads, not watches) at Metadata level, i.e.
   * who (user agent), what (verb, object), when it was received, and the answer's code. The end-to-end tests
   * tell from it which process wrote when (invariant 6).
   */
  auditLog?: boolean;
  /**
   * More kube-controller-manager controllers beside garbage collection, namespaces and service accounts, e.g.
   * `deployment` and `replicaset` for a test of real chains of controllers.
   */
  controllers?: string[];
}

// Writes only, at Metadata level, one event per request once it completed (its RequestReceived stage omitted).
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: Metadata
    verbs: [create, update, patch, delete, deletecollection]
  - level: None
`;

export interface RunningControlPlane extends ControlPlaneEndpoints {
  /** Stops kube-apiserver and starts it again on the same port; resolves once the new one is ready. */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

const startTimeoutMs = 60_000;

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    httpRequest(url, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    })
      .on('error', () => {
        resolve(false);
      })
      .end();
  });
}

function httpsOk(url: string, ca: string, token?: string): Promise<boolean> {
  return new Promise((resolve) => {
    const headers = token === undefined ? undefined : { authorization: `Bearer ${token}` };
    request(url, { ca, headers }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    })
      .on('error', () => {
        resolve(false);
      })
      .end();
  });
}

function kubeconfig(server: string, ca: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'controller-rings', cluster: { server, 'certificate-authority-data': btoa(ca) } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'controller-rings', context: { cluster: 'controller-rings', user: 'admin' } }],
    'current-context': 'controller-rings',
  });
}

/** Launches the control plane in `workDir` (which the caller owns and removes after stop()). */
export async function launchControlPlane(
  binaries: Binaries,
  workDir: string,
  options: ControlPlaneOptions = {},
): Promise<RunningControlPlane> {
  const pki = join(workDir, 'pki');
  const logs = join(workDir, 'logs');
  await Promise.all([mkdir(pki, { recursive: true }), mkdir(logs, { recursive: true })]);
  const file = (name: string): string => join(pki, name);

  const [etcdClientPort, etcdPeerPort, apiserverPort, controllerManagerPort] = await Promise.all([
    freePort(),
    freePort(),
    freePort(),
    freePort(),
  ]);
  const server = `https://127.0.0.1:${apiserverPort}`;
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const authority = await createCertificateAuthority('controller-rings-control-plane');
  const serving = await authority.sign({
    commonName: 'kube-apiserver',
    dnsNames: ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'],
    ipAddresses: ['127.0.0.1', '10.0.0.1'],
    usage: 'server',
  });
  const controllerManagerServing = await authority.sign({
    commonName: 'kube-controller-manager',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  });
  const serviceAccountKeys = await createSigningKeyPair();
  const adminToken = randomBytes(24).toString('hex');
  const kubeconfigPath = join(workDir, 'kubeconfig');
  const auditLogPath = options.auditLog === true ? join(logs, 'audit.jsonl') : undefined;
  await Promise.all([
    ...(auditLogPath === undefined ? [] : [writeFile(file('audit-policy.yaml'), auditPolicy)]),
    writeFile(file('ca.crt'), authority.certificate),
    writeFile(file('apiserver.crt'), serving.certificate),
    writeFile(file('apiserver.key'), serving.privateKey, { mode: 0o600 }),
    writeFile(file('controller-manager.crt'), controllerManagerServing.certificate),
    writeFile(file('controller-manager.key'), controllerManagerServing.privateKey, { mode: 0o600 }),
    writeFile(file('sa.key'), serviceAccountKeys.privateKey, { mode: 0o600 }),
    writeFile(file('sa.pub'), serviceAccountKeys.publicKey),
    writeFile(file('tokens.csv'), `${adminToken},admin,admin,"system:masters"\n`, { mode: 0o600 }),
    writeFile(kubeconfigPath, kubeconfig(server, authority.certificate, adminToken), { mode: 0o600 }),
  ]);

  // In start order; stop() stops them in reverse. restartApiServer() replaces the kube-apiserver entry.
  const started: ManagedProcess[] = [];
  const stop = async (): Promise<void> => {
    for (const process of started.toReversed()) await process.stop();
  };
  const apiserverArgs = [
    `--etcd-servers=${etcdUrl}`,
    '--bind-address=127.0.0.1',
    '--advertise-address=127.0.0.1',
    `--secure-port=${apiserverPort}`,
    `--cert-dir=${pki}`,
    `--tls-cert-file=${file('apiserver.crt')}`,
    `--tls-private-key-file=${file('apiserver.key')}`,
    `--client-ca-file=${file('ca.crt')}`,
    `--token-auth-file=${file('tokens.csv')}`,
    '--authorization-mode=RBAC',
    `--service-account-issuer=${server}`,
    `--service-account-key-file=${file('sa.pub')}`,
    `--service-account-signing-key-file=${file('sa.key')}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    '--allow-privileged=true',
    '--endpoint-reconciler-type=none',
    // Without a grace period a stopping kube-apiserver leaves open watches alone and waits for them until it is
    // killed; with one it ends them, so that clients re-watch, as in a rolling restart.
    '--shutdown-watch-termination-grace-period=5s',
    ...(auditLogPath === undefined
      ? []
      : [
          `--audit-log-path=${auditLogPath}`,
          `--audit-policy-file=${file('audit-policy.yaml')}`,
          '--audit-log-format=json',
          // Written before the answer is sent: whoever reads the log after a response finds its event there.
          '--audit-log-mode=blocking',
        ]),
    '--v=1',
    ...(options.apiServerArgs ?? []),
  ];
  const startApiServer = async (): Promise<ManagedProcess> => {
    const apiserver = new ManagedProcess(
      'kube-apiserver',
      binaries.kubeApiserver,
      apiserverArgs,
      join(logs, 'kube-apiserver.log'),
    );
    try {
      await apiserver.waitUntil(
        () => httpsOk(`${server}/readyz`, authority.certificate, adminToken),
        startTimeoutMs,
      );
    } catch (error) {
      await apiserver.stop();
      throw error;
    }
    return apiserver;
  };
  const restartApiServer = async (): Promise<void> => {
    const index = started.findIndex((process) => process.name === 'kube-apiserver');
    const old = started[index];
    if (old === undefined) throw new Error('kube-apiserver is not running');
    await old.stop();
    started[index] = await startApiServer();
  };
  try {
    const etcd = new ManagedProcess(
      'etcd',
      binaries.etcd,
      [
        `--data-dir=${join(workDir, 'etcd')}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=default=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
      ],
      join(logs, 'etcd.log'),
    );
    started.push(etcd);
    await etcd.waitUntil(() => httpOk(`${etcdUrl}/health`), startTimeoutMs);
    started.push(await startApiServer());

    const controllerManager = new ManagedProcess(
      'kube-controller-manager',
      binaries.kubeControllerManager,
      [
        `--kubeconfig=${kubeconfigPath}`,
        `--authentication-kubeconfig=${kubeconfigPath}`,
        `--authorization-kubeconfig=${kubeconfigPath}`,
        `--controllers=${['garbagecollector', 'namespace', 'serviceaccount', 'serviceaccount-token', ...(options.controllers ?? [])].join(',')}`,
        `--service-account-private-key-file=${file('sa.key')}`,
        `--root-ca-file=${file('ca.crt')}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${controllerManagerPort}`,
        `--tls-cert-file=${file('controller-manager.crt')}`,
        `--tls-private-key-file=${file('controller-manager.key')}`,
        '--v=1',
      ],
      join(logs, 'kube-controller-manager.log'),
    );
    started.push(controllerManager);
    await controllerManager.waitUntil(
      () => httpsOk(`https://127.0.0.1:${controllerManagerPort}/healthz`, authority.certificate),
      startTimeoutMs,
    );
    return {
      server,
      kubeconfigPath,
      caCertificatePath: file('ca.crt'),
      etcdUrl,
      ...(auditLogPath === undefined ? {} : { auditLogPath }),
      restartApiServer,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
