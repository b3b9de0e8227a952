// What loading the kubeconfig costs the sharder (issue 10): its idle resident memory with client-node's
// KubeConfig (a checkout of `--before`, git archive into a temp dir) and with runtime/kubeconfig.ts (this
// checkout), each compiled to JavaScript as the image does (deploy/image/tsconfig.json): run from the sources,
// node's type stripping would add its own memory to both. Runs each as a real process on an embedded control
// plane with one ring of two shards and no objects, lets it settle, and reads VmRSS (/proc) once a second; the
// runs alternate between the two. Then the loaders alone: the RSS of a bare `node` that imports each
// loader (cmd/sharder/kubeconfig.js before, runtime/load-kubeconfig.js now), or loads the control plane's kubeconfig with client-node or runtime/kubeconfig.js
// (and of one that imports nothing).
//   npx node bench/sharder-kubeconfig-memory.ts [--before main] [--runs 3] [--settle-seconds 15] [--samples 5]
import { execFileSync } from 'node:child_process';
import { mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FakeShard } from '../test/support/fake-shard.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { createNamespace, createRing } from '../test/support/rings.ts';
import { startSharder, webhookCertificates } from '../test/support/sharder.ts';
import { residentBytes } from './support/proc.ts';

const { values } = parseArgs({
  options: {
    before: { type: 'string', default: 'main' },
    runs: { type: 'string', default: '3' },
    'settle-seconds': { type: 'string', default: '15' },
    samples: { type: 'string', default: '5' },
  },
  strict: true,
});
const runs = Number(values.runs);
const root = fileURLToPath(new URL('..', import.meta.url));
const mebibyte = 2 ** 20;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (numbers: number[]): number => {
  const sorted = numbers.toSorted((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
};
const mib = (bytes: number): string => (bytes / mebibyte).toFixed(1);

/** A copy of the project at `ref`, sharing this checkout's node_modules. */
async function checkout(ref: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-memory-before-'));
  const archive = execFileSync('git', ['-C', root, 'archive', ref], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  await symlink(await realpath(join(root, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

/** `source` (a checkout) compiled as the image compiles it, in a temp dir beside this checkout's node_modules. */
async function compiled(source: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kubeconfig-memory-js-'));
  const tsc = join(root, 'node_modules', '.bin', 'tsc');
  execFileSync(tsc, ['-p', join(source, 'deploy/image/tsconfig.json'), '--outDir', dir], {
    stdio: 'inherit',
  });
  await symlink(await realpath(join(root, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

/** The RSS of a node process, in `cwd`, that has run `script` (an ES module) and idled for a second. */
function bare(cwd: string, script: string): number {
  const idle = `${script}; await new Promise((r) => setTimeout(r, 1000)); console.log(process.memoryUsage().rss);`;
  return Number(
    execFileSync(process.execPath, ['--input-type=module', '-e', idle], { cwd, encoding: 'utf8' }),
  );
}

const before = await checkout(values.before);
const commit = execFileSync('git', ['-C', root, 'rev-parse', '--short', values.before], { encoding: 'utf8' });
const programs = [
  { label: `before (${values.before}, ${commit.trim()}: client-node)`, root: await compiled(before) },
  { label: 'after (runtime/kubeconfig.ts)', root: await compiled(root) },
];
const idle: number[][] = programs.map(() => []);
const loaders: { label: string; cwd: string; script: string }[] = [];
const bareRss: number[][] = [];
const cluster = await startTestCluster();
try {
  const { rest } = cluster;
  await createNamespace(rest, 'sharder-system');
  for (const name of ['a', 'b']) {
    await new FakeShard(rest, {
      ring: 'idle',
      name,
      namespace: 'sharder-system',
      durationSeconds: 600,
    }).join();
  }
  await createRing(rest, 'idle', { resources: [{ resource: 'configmaps' }] });
  const certificates = await webhookCertificates();
  for (let run = 0; run < runs; run++) {
    // Alternating which goes first, so that a drift of the machine falls on both.
    const order = run % 2 === 0 ? [0, 1] : [1, 0];
    for (const index of order) {
      const program = programs[index];
      if (program === undefined) continue;
      const sharder = await startSharder({
        kubeconfigPath: cluster.controlPlane.kubeconfigPath,
        namespace: 'sharder-system',
        identity: `sharder-${run}-${index}`,
        certificates,
        args: ['--log-level=info'],
        program: join(program.root, 'cmd/sharder/main.js'),
      });
      try {
        await sleep(Number(values['settle-seconds']) * 1000);
        const samples: number[] = [];
        for (let i = 0; i < Number(values.samples); i++) {
          samples.push(await residentBytes(sharder.pid ?? 0));
          await sleep(1000);
        }
        idle[index]?.push(median(samples));
        console.log(`run ${run + 1}, ${program.label}: ${samples.map(mib).join(' ')} MiB`);
      } finally {
        await sharder.stop();
      }
    }
  }
  // The loaders alone, on the control plane's kubeconfig (a JSON file: YAML's parser loads for it).
  const kubeconfig = JSON.stringify(cluster.controlPlane.kubeconfigPath);
  const [old, now] = programs.map((program) => program.root);
  loaders.push(
    { label: 'nothing (an empty node)', cwd: root, script: '' },
    {
      label: `${programs[0]?.label ?? ''}: cmd/sharder/kubeconfig.js`,
      cwd: old ?? '',
      script: "await import('./cmd/sharder/kubeconfig.js')",
    },
    {
      label: `${programs[1]?.label ?? ''}: runtime/load-kubeconfig.js`,
      cwd: now ?? '',
      script: "await import('./runtime/load-kubeconfig.js')",
    },
    {
      label: "client-node's KubeConfig, loading the kubeconfig",
      cwd: now ?? '',
      script: `const { KubeConfig } = await import('@kubernetes/client-node'); new KubeConfig().loadFromFile(${kubeconfig})`,
    },
    {
      label: 'runtime/kubeconfig.js, imported (all that in-cluster loads)',
      cwd: now ?? '',
      script: "await import('./runtime/kubeconfig.js')",
    },
    {
      label: 'runtime/kubeconfig.js, loading the kubeconfig',
      cwd: now ?? '',
      script: `const k = await import('./runtime/kubeconfig.js'); new k.KubeconfigAccess(k.readKubeconfig(${kubeconfig}))`,
    },
  );
  for (const loader of loaders)
    bareRss.push(Array.from({ length: runs }, () => bare(loader.cwd, loader.script)));
} finally {
  await cluster.stop();
}

for (const dir of [before, ...programs.map((program) => program.root)]) {
  await rm(dir, { recursive: true, force: true });
}

const [idleBefore = [], idleAfter = []] = idle;
console.log(
  [
    '| sharder, idle | RSS per run, median of the samples (MiB) | median |',
    '|---|---|--:|',
    ...programs.map(
      (program, index) =>
        `| ${program.label} | ${(idle[index] ?? []).map(mib).join(', ')} | ${mib(median(idle[index] ?? []))} |`,
    ),
    `| after/before | | ${(median(idleAfter) / median(idleBefore)).toFixed(3)} |`,
    '',
    '| bare `node` | RSS per run (MiB) | median |',
    '|---|---|--:|',
    ...loaders.map(
      (loader, index) =>
        `| ${loader.label} | ${(bareRss[index] ?? []).map(mib).join(', ')} | ${mib(median(bareRss[index] ?? []))} |`,
    ),
  ].join('\n'),
);
