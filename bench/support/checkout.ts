// A copy of the project at a git ref, for benchmarks that run an older sharder beside this checkout's.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Checkout {
  /** The project's root directory. */
  dir: string;
  /**
   * The node flags its sharder's default Deployment sets (config/sharder/sharder.yaml): those of the container's
   * command (between node and the program), then NODE_OPTIONS.
   */
  nodeOptions: string[];
  /** The other environment variables with a value that its Deployment sets (e.g. glibc's malloc settings). */
  deploymentEnv: Record<string, string>;
  remove(): Promise<void>;
}

/** The project at `ref` (git archive into a temp dir, sharing this checkout's node_modules); `.` is this checkout. */
export async function checkout(ref: string): Promise<Checkout> {
  if (ref === '.') return { dir: root, ...(await runtimeSettings(root)), remove: () => Promise.resolve() };
  const dir = await mkdtemp(join(tmpdir(), 'checkout-'));
  const archive = execFileSync('git', ['-C', root, 'archive', ref], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  await symlink(await realpath(join(root, 'node_modules')), join(dir, 'node_modules'));
  return {
    dir,
    ...(await runtimeSettings(dir)),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

interface EnvVar {
  name: string;
  value?: string;
}

/** The node flags and the other literal env of the sharder's container in config/sharder/sharder.yaml. */
async function runtimeSettings(dir: string): Promise<Pick<Checkout, 'nodeOptions' | 'deploymentEnv'>> {
  const manifests = parseAllDocuments(await readFile(join(dir, 'config/sharder/sharder.yaml'), 'utf8'));
  const deployment = manifests
    .map((document) => document.toJS() as { kind?: string; spec?: unknown })
    .find((manifest) => manifest.kind === 'Deployment') as
    | { spec: { template: { spec: { containers: { name: string; command?: string[]; env?: EnvVar[] }[] } } } }
    | undefined;
  const container = deployment?.spec.template.spec.containers.find(({ name }) => name === 'sharder');
  const env: Record<string, string> = {};
  for (const { name, value } of container?.env ?? []) if (value !== undefined) env[name] = value;
  const { NODE_OPTIONS: nodeOptions = '', ...rest } = env;
  const commandFlags = (container?.command ?? []).slice(1).filter((arg) => arg.startsWith('--'));
  return {
    nodeOptions: [...commandFlags, ...nodeOptions.split(' ').filter((option) => option !== '')],
    deploymentEnv: rest,
  };
}
