// Runs the kubectl-rings plugin from source as kubectl would run it: a process of its own, with only the
// environment given (and PATH).
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../../cmd/kubectl-rings/main.ts', import.meta.url));

export interface PluginResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl-rings with `args` in an environment of `env` alone (no KUBECONFIG or HOME unless given). */
export function runKubectlRings(args: string[], env: Record<string, string>): Promise<PluginResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [main, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
  });
}
