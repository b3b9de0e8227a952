// The process that owns a running control plane. It prints one JSON line with the endpoints once the control
// plane is ready, and stops it and removes its work directory on SIGTERM/SIGINT or, with --stop-on-stdin-close,
// when its parent goes away (the parent's end of stdin closes even when the parent is killed).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureBinaries } from './binaries.ts';
import { launchControlPlane, type RunningControlPlane } from './launch.ts';

const stopOnStdinClose = process.argv.includes('--stop-on-stdin-close');
const workDir = await mkdtemp(join(tmpdir(), 'controller-rings-control-plane-'));
let controlPlane: RunningControlPlane | undefined;
let stopping: Promise<void> | undefined;

function shutdown(): Promise<void> {
  stopping ??= (async () => {
    await controlPlane?.stop();
    await rm(workDir, { recursive: true, force: true });
  })();
  return stopping;
}

async function shutdownAndExit(code: number): Promise<never> {
  await shutdown();
  process.exit(code);
}

for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
  process.on(signal, () => void shutdownAndExit(0));
}
if (stopOnStdinClose) {
  process.stdin.on('end', () => void shutdownAndExit(0)).resume();
}

try {
  controlPlane = await launchControlPlane(await ensureBinaries(), workDir);
  const { server, kubeconfigPath, caCertificatePath } = controlPlane;
  process.stdout.write(`${JSON.stringify({ server, kubeconfigPath, caCertificatePath, workDir })}\n`);
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  await shutdownAndExit(1);
}
