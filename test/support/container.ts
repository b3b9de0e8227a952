// The project's image in the tests: built (or found in podman's cache) by hack/build-image.sh, and containers run
// from it as child processes (`podman run` in the foreground, its output in a log file) that stop, die and
// pause like the processes the other tests start.
import { execFile, execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { isRunning } from '../control-plane/control-plane.ts';
import { ManagedProcess } from '../control-plane/process.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const installHint =
  'install them with `bash hack/install-container-tools.sh` (as root, on Debian; `make test` does)';

/** The commands the image's tests need that are not on PATH. */
function missingTools(): string[] {
  return ['podman', 'runc'].filter((tool) => {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
      return false;
    } catch {
      return true;
    }
  });
}

/**
 * Builds the image from this checkout (seconds when podman's cache has every layer) and returns its name.
 * Fails, naming what is missing and how to install it, where this machine cannot build or run containers.
 */
export async function buildImage(): Promise<string> {
  const missing = missingTools();
  if (missing.length > 0) {
    throw new Error(`the image's tests need ${missing.join(' and ')}, not found on PATH: ${installHint}`);
  }
  await removeOrphans();
  try {
    const { stdout } = await run('bash', [`${root}hack/build-image.sh`], { cwd: root });
    return stdout.trim();
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`hack/build-image.sh failed (${installHint} if a tool is missing):\n${stderr}`, {
      cause: error,
    });
  }
}

const namePrefix = 'controller-rings-test-';

/**
 * Removes the test containers of jest processes that are gone (a run killed before its afterAll): a container
 * is named after the process that started it, and a dead process's containers would keep talking to an API
 * server that no longer exists, and hold their ports.
 */
async function removeOrphans(): Promise<void> {
  const { stdout } = await run('podman', [
    'ps',
    '--all',
    '--format={{.Names}}',
    `--filter=name=^${namePrefix}`,
  ]);
  const orphans = stdout
    .split('\n')
    .filter((name) => name.startsWith(namePrefix))
    .filter((name) => !isRunning(Number(name.slice(namePrefix.length).split('-')[0])));
  if (orphans.length > 0) await run('podman', ['rm', '--force', ...orphans]);
}

/** hack/podman-flags.sh's flags, which podman needs on this machine kind to run a container. */
export function podmanRunFlags(): string[] {
  const script = `. '${root}hack/podman-flags.sh'; printf '%s\\n' "\${podman_run_flags[@]}"`;
  return execFileSync('bash', ['-c', script], { encoding: 'utf8' }).trim().split('\n');
}

let sequence = 0;

/** A container run in the foreground by `podman run`, which exits with the container. */
export class ContainerProcess extends ManagedProcess {
  readonly containerName: string;
  #pid: number | undefined;

  /** `args`: podman run's options, the image and its args (pod-container.ts's podmanRunArgs). */
  constructor(name: string, args: string[], logPath: string) {
    const containerName = `${namePrefix}${process.pid}-${++sequence}-${name}`;
    super(name, 'podman', ['run', '--rm', `--name=${containerName}`, ...podmanRunFlags(), ...args], logPath);
    this.containerName = containerName;
  }

  /** Its main process's pid on the host (once started() resolved), which SIGSTOP and SIGCONT go to. */
  override get pid(): number | undefined {
    return this.#pid;
  }

  /** Resolves once the container runs, with its main process known. */
  async started(): Promise<void> {
    const { stdout } = await run('podman', ['inspect', '--format={{.State.Pid}}', this.containerName]);
    const pid = Number(stdout.trim());
    if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${this.containerName} has no process`);
    this.#pid = pid;
  }

  /** `podman stop`: SIGTERM, then SIGKILL after the grace period (default: the pod's, --stop-timeout). */
  override async stop(graceMs?: number): Promise<number | null> {
    if (this.running) {
      const time = graceMs === undefined ? [] : [`--time=${Math.ceil(graceMs / 1000)}`];
      await run('podman', ['stop', ...time, this.containerName]).catch(() => undefined);
    }
    return this.exited;
  }

  /** SIGKILL to the container's processes, as a crash or an OOM kill. */
  override async kill(): Promise<void> {
    if (this.running)
      await run('podman', ['kill', '--signal=KILL', this.containerName]).catch(() => undefined);
    await this.exited;
  }

  /** Removes the container whatever state it is in (cleanup after a failure). */
  async remove(): Promise<void> {
    await run('podman', ['rm', '--force', '--time=0', this.containerName]).catch(() => undefined);
    await super.kill();
  }
}
