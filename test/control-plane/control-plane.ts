// Starts the embedded control plane in a supervisor process (test/control-plane/supervisor.ts), so that it is
// stopped and its temp dir removed whatever happens to the caller: an attached control plane goes away with
// its caller, a detached one (the CLI's `up`) lives until stopped by pid.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureBinaries } from './binaries.ts';
import type { ControlPlaneEndpoints, ControlPlaneOptions } from './launch.ts';
import type { ApiServerRestart } from './supervisor.ts';

export interface ControlPlane extends ControlPlaneEndpoints {
  /** The supervisor's pid. */
  pid: number;
  /** The directory holding the control plane's certificates, data and logs; removed on stop. */
  workDir: string;
  /**
   * Stops kube-apiserver and starts it again on the same port (etcd and the controller manager keep running);
   * resolves once the new one is ready. Only the process that started the control plane can call it.
   */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

const supervisor = fileURLToPath(new URL('./supervisor.ts', import.meta.url));

/** Whether a process with this pid still exists. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Stops a supervisor by pid and waits until it (and with it the control plane) is gone. */
export async function stopSupervisor(pid: number): Promise<void> {
  if (!isRunning(pid)) return;
  process.kill(pid, 'SIGTERM');
  while (isRunning(pid)) await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * Starts a control plane. Attached (the default), it stops when the caller exits, even when killed; detached,
 * it keeps running until stop() or stopSupervisor(pid). With `auditLog` the API server writes an audit log of
 * write requests (ControlPlaneEndpoints.auditLogPath).
 */
export async function startControlPlane(
  options: { detached?: boolean; logPath?: string } & ControlPlaneOptions = {},
): Promise<ControlPlane> {
  const detached = options.detached ?? false;
  const args = [
    supervisor,
    ...(detached ? [] : ['--stop-on-stdin-close']),
    ...(options.apiServerArgs ?? []).map((arg) => `--apiserver-arg=${arg}`),
    ...(options.auditLog === true ? ['--audit-log'] : []),
    ...(options.controllers ?? []).map((controller) => `--controller=${controller}`),
  ];
  let stderr: 'inherit' | number = 'inherit';
  if (detached) {
    // A detached supervisor must not hold the caller's stderr open (a pipe reader would wait for it): the
    // build, whose progress matters, runs here first; the supervisor's own messages go to a log file.
    await ensureBinaries();
    stderr = openSync(options.logPath ?? join(tmpdir(), 'controller-rings-control-plane.log'), 'a');
  }
  const child = spawn(process.execPath, args, {
    stdio: [detached ? 'ignore' : 'pipe', 'pipe', stderr],
    detached,
  });
  if (typeof stderr === 'number') closeSync(stderr);
  const { stdout } = child;
  if (stdout === null) throw new Error('the control-plane supervisor has no stdout');
  const lines = createInterface({ input: stdout });
  const ready = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('error', reject);
    child.once('exit', (code) => {
      reject(new Error(`the control plane did not start (supervisor exited with code ${String(code)})`));
    });
  });
  // The supervisor acknowledges each restart with a line: the pipe stays open, but keeps the caller alive only
  // while it waits for one.
  const acknowledgements = stdout as typeof stdout & Pick<Socket, 'ref' | 'unref'>;
  acknowledgements.unref();
  // The control plane must not keep its caller alive: an attached one ends when the caller's stdin pipe closes.
  child.unref();
  (child.stdin as (Socket & { unref(): void }) | null)?.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('the control-plane supervisor has no pid');
  const endpoints = JSON.parse(ready) as ControlPlaneEndpoints & { workDir: string };
  const nextLine = (): Promise<string> =>
    new Promise((resolve, reject) => {
      const closed = (): void => {
        reject(new Error('the control-plane supervisor has exited'));
      };
      lines.once('close', closed).once('line', (line: string) => {
        lines.off('close', closed);
        resolve(line);
      });
    });
  let restarts: Promise<void> = Promise.resolve();
  const restartApiServer = (): Promise<void> => {
    const restart = restarts.then(async () => {
      const acknowledged = nextLine();
      acknowledgements.ref();
      process.kill(pid, 'SIGUSR2');
      const answer = JSON.parse(
        await acknowledged.finally(() => acknowledgements.unref()),
      ) as ApiServerRestart;
      if (!answer.apiServerRestarted)
        throw new Error(`kube-apiserver did not restart: ${answer.error ?? ''}`);
    });
    restarts = restart.catch(() => undefined);
    return restart;
  };
  return { ...endpoints, pid, restartApiServer, stop: () => stopSupervisor(pid) };
}
