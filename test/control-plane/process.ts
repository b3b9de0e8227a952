// One child process of the control plane (or of a test: sharder replicas, shards): output to a log file,
// readiness polling that gives up when the process dies, and a stop that escalates from SIGTERM to SIGKILL.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { openSync, closeSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export class ManagedProcess {
  readonly name: string;
  readonly logPath: string;
  readonly #child: ChildProcess;
  /** Resolves with the exit code (null when ended by a signal) once the process has exited. */
  readonly exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  /** `env`: variables set on top of this process's environment, which the child inherits. */
  constructor(
    name: string,
    command: string,
    args: string[],
    logPath: string,
    env?: Readonly<Record<string, string>>,
  ) {
    this.name = name;
    this.logPath = logPath;
    const log = openSync(logPath, 'a');
    try {
      this.#child = spawn(command, args, {
        stdio: ['ignore', log, log],
        ...(env === undefined ? {} : { env: { ...process.env, ...env } }),
      });
    } finally {
      closeSync(log);
    }
    this.exited = once(this.#child, 'exit').then(([code]) => {
      this.#exitCode = code as number | null;
      return this.#exitCode;
    });
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** Polls `probe` until it returns true; fails with the end of the log when the process exits or time runs out. */
  async waitUntil(probe: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running)
        throw this.#failure(`exited with code ${String(this.#exitCode)} before it was ready`);
      if (await probe().catch(() => false)) return;
      await sleep(100);
    }
    throw this.#failure(`was not ready within ${timeoutMs} ms`);
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** SIGTERM, then SIGKILL after the grace period; resolves with the exit code once the process has exited. */
  async stop(graceMs = 10_000): Promise<number | null> {
    if (this.running) {
      this.#child.kill('SIGTERM');
      const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exited;
  }

  /** SIGKILL: the process gets no chance to clean up, as in a crash. */
  async kill(): Promise<void> {
    if (this.running) this.#child.kill('SIGKILL');
    await this.exited;
  }

  #failure(what: string): Error {
    const tail = readFileSync(this.logPath, 'utf8').split('\n').slice(-30).join('\n');
    return new Error(`${this.name} ${what} (log ${this.logPath}):\n${tail}`);
  }
}
