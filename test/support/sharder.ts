// Runs the sharder program (cmd/sharder/main.ts) as real child processes against the test control plane,
// with a webhook serving certificate for 127.0.0.1 that all replicas of one test share.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createCertificateAuthority } from '../../runtime/certificates.ts';
import { eventually } from './eventually.ts';
import { freePort } from './ports.ts';

const main = fileURLToPath(new URL('../../cmd/sharder/main.ts', import.meta.url));

export interface WebhookFiles {
  dir: string;
  certFile: string;
  keyFile: string;
  caFile: string;
}

/** A CA and a serving certificate for 127.0.0.1, written to a temp dir. */
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

export interface SharderProcess {
  identity: string;
  webhookPort: number;
  probePort: number;
  logPath: string;
  /** Graceful stop (SIGTERM) and wait for the exit; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<void>;
  readonly process: ChildProcess;
}

export interface SharderOptions {
  kubeconfigPath: string;
  namespace: string;
  identity: string;
  certificates: WebhookFiles;
  /** Where the API server calls the webhook; default this replica's own webhook port. */
  webhookUrl?: string;
  args?: string[];
}

function ready(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    request(`http://127.0.0.1:${port}/readyz`, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    })
      .on('error', () => { resolve(false); })
      .end();
  });
}

/** Starts one sharder replica and waits until it is ready. */
export async function startSharder(options: SharderOptions): Promise<SharderProcess> {
  const [webhookPort, probePort] = await Promise.all([freePort(), freePort()]);
  const { certificates } = options;
  const logPath = join(certificates.dir, `${options.identity}.log`);
  const log = openSync(logPath, 'a');
  const child = spawn(
    process.execPath,
    [
      main,
      `--kubeconfig=${options.kubeconfigPath}`,
      `--namespace=${options.namespace}`,
      `--identity=${options.identity}`,
      `--webhook-bind-address=127.0.0.1:${webhookPort}`,
      `--webhook-url=${options.webhookUrl ?? `https://127.0.0.1:${webhookPort}`}`,
      `--webhook-cert-file=${certificates.certFile}`,
      `--webhook-key-file=${certificates.keyFile}`,
      `--webhook-ca-file=${certificates.caFile}`,
      `--health-probe-bind-address=127.0.0.1:${probePort}`,
      '--metrics-bind-address=0',
      '--log-format=json',
      '--log-level=debug',
      ...(options.args ?? []),
    ],
    { stdio: ['ignore', log, log] },
  );
  closeSync(log);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  try {
    await eventually(
      async () => {
        if (child.exitCode !== null) throw new Error(`the sharder exited with code ${child.exitCode}`);
        if (!(await ready(probePort))) throw new Error('the sharder is not ready');
      },
      { timeoutMs: 30_000 },
    );
  } catch (error) {
    child.kill('SIGKILL');
    const tail = readFileSync(logPath, 'utf8').split('\n').slice(-20).join('\n');
    throw new Error(`${(error as Error).message}; log ${logPath}:\n${tail}`, { cause: error });
  }
  return {
    identity: options.identity,
    webhookPort,
    probePort,
    logPath,
    process: child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
