// The process that owns a running control plane. It prints one JSON line with the endpoints once the control
// plane is ready (each --apiserver-arg=<flag> is passed on to kube-apiserver, each --controller=<name> runs in kube-controller-manager too), and stops it and removes its work directory on SIGTERM/SIGINT or, with --stop-on-stdin-close,
// when its parent goes away (the parent's end of stdin closes even when the parent is killed).
// On SIGUSR2 it restarts kube-apiserver alone and prints one JSON line when that is done (see ApiServerRestart);
// SIGUSR1 would be the natural signal, but Node reserves it for starting the inspector.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from './binaries.ts';
import { launchControlPlane, type RunningControlPlane } from './launch.ts';

/** The line the supervisor prints after a restart requested with SIGUSR2. */
export interface ApiServerRestart {
  apiServerRestarted: boolean;
  error?: string;
}

const stopOnStdinClose = process.argv.includes('--stop-on-stdin-close');
const apiServerArgPrefix = '--apiserver-arg=';
const apiServerArgs = process.argv
  .filter((arg) => arg.startsWith(apiServerArgPrefix))
  .map((arg) => arg.slice(apiServerArgPrefix.length));
const auditLog = process.argv.includes('--audit-log');
const controllerPrefix = '--controller=';
const controllers = process.argv
  .filter((arg) => arg.startsWith(controllerPrefix))
  .map((arg) => arg.slice(controllerPrefix.length));
const workDir = await mkdtemp(join(tmpdir(), 'controller-rings-control-plane-'));
let controlPlane: RunningControlPlane | undefined;
let stopping: Promise<void> | undefined;
// Restarts run one after the other, and shutdown waits for the current one: a kube-apiserver started after
// stop() would outlive the supervisor.
let restarts: Promise<void> = Promise.resolve();

function shutdown(): Promise<void> {
  stopping ??= (async () => {
    await restarts;
    await controlPlane?.stop();
    await rm(workDir, { recursive: true, force: true });
  })();
  return stopping;
}

async function shutdownAndExit(code: number): Promise<never> {
  await shutdown();
  process.exit(code);
}

function restartApiServer(): void {
  restarts = restarts.then(async () => {
    if (controlPlane === undefined || stopping !== undefined) return;
    const answer: ApiServerRestart = await controlPlane.restartApiServer().then(
      () => ({ apiServerRestarted: true }),
      (error: unknown) => ({ apiServerRestarted: false, error: String(error) }),
    );
    process.stdout.write(`${JSON.stringify(answer)}\n`);
  });
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => void shutdownAndExit(0));
}
process.on('SIGUSR2', restartApiServer);
// Whoever started a detached supervisor may be gone when a restart is acknowledged: a failed write must not
// end the supervisor and leave its control plane running.
process.stdout.on('error', () => undefined);
if (stopOnStdinClose) {
  process.stdin.on('end', () => void shutdownAndExit(0)).resume();
}

try {
  controlPlane = await launchControlPlane(await ensureBinaries(), workDir, {
    apiServerArgs,
    auditLog,
    controllers,
  });
  const { server, kubeconfigPath, caCertificatePath, etcdUrl, auditLogPath } = controlPlane;
  process.stdout.write(
    `${JSON.stringify({ server, kubeconfigPath, caCertificatePath, etcdUrl, auditLogPath, workDir })}\n`,
  );
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await shutdownAndExit(1);
}
