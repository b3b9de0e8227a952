// The control-plane binaries, built from Go module sources by hack/build-control-plane.sh and cached outside
// the repo by version (the first run builds for ~10-15 minutes, later runs find them).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Binaries {
  etcd: string;
  kubeApiserver: string;
  kubeControllerManager: string;
}

const buildScript = fileURLToPath(new URL('../../hack/build-control-plane.sh', import.meta.url));

/** Returns the cached binaries, building them first when they are missing. Build progress goes to stderr. */
export async function ensureBinaries(): Promise<Binaries> {
  const build = spawn('bash', [buildScript], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  build.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    build.on('error', reject).on('close', resolve);
  });
  if (code !== 0) throw new Error(`${buildScript} failed with exit code ${String(code)}`);
  const directory = output.trim().split('\n').at(-1) ?? '';
  return {
    etcd: join(directory, 'etcd'),
    kubeApiserver: join(directory, 'kube-apiserver'),
    kubeControllerManager: join(directory, 'kube-controller-manager'),
  };
}
