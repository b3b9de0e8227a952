// A copy of the project at a git ref, for benchmarks that run an older sharder beside this checkout's.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

export interface Checkout {
  /** The project's root directory. */
  dir: string;
  /** The node flags its sharder's default Deployment sets (NODE_OPTIONS in config/sharder/sharder.yaml). */
  nodeOptions: string[];
  remove(): Promise<void>;
}

/** The project at `ref` (git archive into a temp dir, sharing this checkout's node_modules); `.` is this checkout. */
export async function checkout(ref: string): Promise<Checkout> {
  if (ref === '.')
    return { dir: root, nodeOptions: await nodeOptions(root), remove: () => Promise.resolve() };
  const dir = await mkdtemp(join(tmpdir(), 'checkout-'));
  const archive = execFileSync('git', ['-C', root, 'archive', ref], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  await symlink(await realpath(join(root, 'node_modules')), join(dir, 'node_modules'));
  return {
    dir,
    nodeOptions: await nodeOptions(dir),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

async function nodeOptions(dir: string): Promise<string[]> {
  const deployment = await readFile(join(dir, 'config/sharder/sharder.yaml'), 'utf8');
  return /name: NODE_OPTIONS\s+value: (.*)/.exec(deployment)?.[1]?.split(' ') ?? [];
}
