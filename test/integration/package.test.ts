// The package as its users get it: `npm pack`, the tarball installed into scratch projects outside the
// repository (each its own package.json; the tarball and the peers from the registry or npm's cache), their
// TypeScript checked against the installed declarations, and their programs run: two shards of a controller
// that imports only `controller-rings/shard` join a ring that a real sharder serves and reconcile the objects
// assigned to them, which the installed kubectl-rings bin then shows; a cdk8s app synthesizes the package's
// constructs. The projects are test/fixtures/package-consumer/.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { parseAllDocuments } from 'yaml';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import { ManagedProcess } from '../control-plane/process.ts';
import { eventually } from '../support/eventually.ts';
import { importGraph } from '../support/import-graph.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, listObjects } from '../support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../support/sharder.ts';

const run = promisify(execFile);
const repository = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = fileURLToPath(new URL('../fixtures/package-consumer/', import.meta.url));
const tsc = join(repository, 'node_modules/.bin/tsc');

interface Manifest {
  name: string;
  version: string;
  exports: Record<string, string | { types: string; import: string }>;
  bin: Record<string, string>;
  dependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  devDependencies: Record<string, string>;
}
const manifest = JSON.parse(await readFile(join(repository, 'package.json'), 'utf8')) as Manifest;

interface Packed {
  filename: string;
  size: number;
  entryCount: number;
  files: { path: string }[];
}

interface Dependency {
  version?: string;
  dependencies?: Record<string, Dependency>;
}

/** npm as a user runs it: none of the npm_* settings that `npm test` passes to its children. */
function npm(args: string[], cwd: string): Promise<{ stdout: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
  return run('npm', [...args, '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd,
    env,
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** The version of `name` this repository is tested with: what the scratch projects install as peers. */
function tested(name: string): string {
  const version = manifest.devDependencies[name];
  if (version === undefined) throw new Error(`${name} is no devDependency`);
  return `${name}@${version}`;
}

/** A project of its own in `dir`: a package.json, the fixture's files, the tarball and `packages` installed. */
async function scratchProject(dir: string, fixture: string, tarball: string, packages: string[]) {
  await mkdir(dir);
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ name: `scratch-${fixture}`, private: true, type: 'module' }),
  );
  await cp(join(fixtures, fixture), dir, { recursive: true });
  const started = Date.now();
  await npm(['install', tarball, ...packages], dir);
  return { dir, installMs: Date.now() - started };
}

/** The names of every package installed in a project, from `npm ls --all`. */
async function installedPackages(dir: string): Promise<Set<string>> {
  const { stdout } = await npm(['ls', '--all', '--json'], dir);
  const names = new Set<string>();
  const visit = (dependencies: Record<string, Dependency> = {}): void => {
    for (const [name, dependency] of Object.entries(dependencies)) {
      if (dependency.version === undefined) continue; // an optional peer left out
      names.add(name);
      visit(dependency.dependencies);
    }
  };
  visit((JSON.parse(stdout) as Dependency).dependencies);
  return names;
}

/**
 * tsc on a scratch project, with the declarations checked too (skipLibCheck off): the errors in the project's
 * own files and in the package's declarations. Other packages' declarations are not this test's business
 * (client-node's import a `ws` without types).
 */
async function typeErrors(dir: string): Promise<string[]> {
  const output = await run(tsc, ['-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir }).then(
    () => '',
    (error: unknown) => (error as { stdout: string }).stdout,
  );
  return output
    .split('\n')
    .filter((line) => /error TS\d+/.test(line))
    .filter((line) => !line.startsWith('node_modules/') || line.startsWith('node_modules/controller-rings/'));
}

/**
 * The kubectl-rings bin installed in `project`, run as kubectl runs a plugin: the file itself, by its
 * `#!/usr/bin/env node`, with this node first on PATH.
 */
function kubectlRings(project: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  const path = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;
  return run(join(project, 'node_modules/.bin/kubectl-rings'), args, { env: { ...process.env, PATH: path } });
}

let dir: string;
let packed: Packed;
let author: { dir: string; installMs: number };
let manifests: { dir: string; installMs: number };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'package-test-'));
  const started = Date.now();
  // prepack builds dist/ first.
  const { stdout } = await npm(['pack', '--pack-destination', dir, '--json'], repository);
  [packed] = JSON.parse(stdout) as [Packed];
  const packMs = Date.now() - started;
  const tarball = join(dir, packed.filename);
  author = await scratchProject(join(dir, 'author'), 'shard', tarball, [
    tested('@kubernetes/client-node'),
    tested('@types/node'),
  ]);
  manifests = await scratchProject(join(dir, 'manifests'), 'manifests', tarball, [
    tested('cdk8s'),
    tested('constructs'),
    tested('kubernetes-models'),
    tested('@types/node'),
  ]);
  console.log(
    `${packed.filename}: ${packed.size} bytes, ${packed.entryCount} files; pack ${packMs} ms, installs ` +
      `${author.installMs} ms (shard author) and ${manifests.installMs} ms (cdk8s user)`,
  );
}, 300_000);

// The scratch projects hold about 100 MB of node_modules each; a failing shard's log is in its error.
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the tarball', () => {
  it('holds the compiled entry points with their declarations and source maps, and no sources or tests', () => {
    const paths = packed.files.map((file) => file.path);
    for (const path of paths)
      expect(path).toMatch(
        /^(package\.json|README\.md|CHANGELOG\.md|dist\/.+\.(js|d\.ts|js\.map|yaml|lua))$/,
      );
    expect(paths.filter((path) => /\.test\.|\/test\//.test(path))).toEqual([]);
    for (const target of Object.values(manifest.exports)) {
      if (typeof target === 'string') continue;
      for (const file of [target.types, target.import, `${target.import}.map`])
        expect(paths).toContain(file.replace(/^\.\//, ''));
    }
    for (const file of Object.values(manifest.bin)) expect(paths).toContain(file);
  });
});

describe('the entry points', () => {
  const root = (): string => join(author.dir, 'node_modules/controller-rings/dist');

  it('controller-rings/shard loads the shard library and the runtime, no sharder code', () => {
    const graph = importGraph(root(), 'shard/index.js');
    for (const file of graph.files) expect(file).toMatch(/^(shard|runtime|sharding|api)\//);
    expect(graph.packages.filter((name) => !(name in manifest.dependencies))).toEqual([]);
  });

  it('controller-rings/api loads the API alone', () => {
    const graph = importGraph(root(), 'api/v1alpha1/index.js');
    for (const file of graph.files) expect(file).toMatch(/^api\//);
    expect(graph.packages).toEqual([]);
  });

  it('controller-rings/cdk8s loads the constructs and, of the sharder, its flag parser and webhook names', () => {
    const graph = importGraph(root(), 'cdk8s/index.js');
    // The admission policies allow exactly the webhook configurations and paths the sharder writes, so they
    // share those two modules with it (docs/architecture.md, the import exceptions).
    const sharderModules = [
      'cmd/sharder/config.js',
      'controllers/controllerring/webhook-configuration.js',
      'webhook/path.js',
    ];
    for (const file of graph.files) {
      if (!sharderModules.includes(file)) expect(file).toMatch(/^(cdk8s|runtime|sharding|api)\//);
    }
    const known = [...Object.keys(manifest.dependencies), 'cdk8s', 'constructs'];
    expect(graph.packages.filter((name) => !known.includes(name))).toEqual([]);
  });

  it('kubectl-rings loads the plugin, the runtime and the protocol, and of the sharder its webhook names', () => {
    const graph = importGraph(root(), 'cmd/kubectl-rings/main.js');
    // It reads a ring's namespaces from the webhook configuration the sharder writes, by the sharder's name.
    for (const file of graph.files) {
      if (file !== 'controllers/controllerring/webhook-configuration.js')
        expect(file).toMatch(/^(cmd\/kubectl-rings|runtime|sharding|api)\//);
    }
    // client-node, an optional peer, only for a user that logs in with an exec plugin (docs/kubectl-rings.md).
    const known = [...Object.keys(manifest.dependencies), '@kubernetes/client-node'];
    expect(graph.packages.filter((name) => !known.includes(name))).toEqual([]);
  });

  it('are the only way in: internals are not exported', async () => {
    const probe = "import('controller-rings/dist/runtime/rest.js').catch((e) => console.log(e.code))";
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: author.dir });
    expect(stdout.trim()).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });
});

describe('a shard author', () => {
  it("gets the shard library's and kubectl-rings' dependencies, none of the sharder's, cdk8s or the tools", async () => {
    const installed = await installedPackages(author.dir);
    for (const name of Object.keys(manifest.dependencies)) expect(installed).toContain(name);
    for (const name of [
      '@peculiar/x509',
      'reflect-metadata',
      'cdk8s',
      'constructs',
      'kubernetes-models',
      'node',
      'typescript',
      'jest',
    ])
      expect(installed).not.toContain(name);
  });

  it('type-checks a controller against the installed declarations', async () => {
    expect(await typeErrors(author.dir)).toEqual([]);
  });

  it('gets the kubectl-rings bin, which kubectl finds on PATH as `kubectl rings`', async () => {
    const { stdout } = await kubectlRings(author.dir, ['--help']);
    expect(stdout).toMatch(/^ {2}kubectl rings get \[RING\.\.\.\]/m);
  });
});

describe('a cdk8s user', () => {
  it('type-checks an app against the installed declarations', async () => {
    expect(await typeErrors(manifests.dir)).toEqual([]);
  });

  it("synthesizes the CRD, the sharder, Argo CD's health check and a ring, without the sharder's dependencies", async () => {
    const fromPackage = createRequire(join(manifests.dir, 'node_modules/controller-rings/package.json'));
    expect(() => fromPackage.resolve('@peculiar/x509')).toThrow(/Cannot find module/);
    const { stdout } = await run(process.execPath, ['app.ts'], { cwd: manifests.dir });
    const objects = parseAllDocuments(stdout).map(
      (document) => document.toJS() as { kind: string; metadata: { name: string }; data?: object },
    );
    const names = objects.map(({ kind, metadata }) => `${kind}/${metadata.name}`);
    expect(names).toEqual(
      expect.arrayContaining([
        'CustomResourceDefinition/controllerrings.sharding.controller-rings.io',
        'Deployment/controller-rings-sharder',
        'ControllerRing/websites',
        'ConfigMap/argocd-cm',
      ]),
    );
    const healthCheck = objects.find(({ metadata }) => metadata.name === 'argocd-cm');
    expect(Object.values(healthCheck?.data ?? {}).join()).toContain('hs.status');
  });
});

describe('shards of a controller installed from the tarball', () => {
  const ring = 'scratch';
  const objectNamespace = 'scratch-objects';
  const leaseNamespace = 'scratch-shards';
  const names = ['scratch-a', 'scratch-b'];
  const reconciledBy = 'scratch.example.com/reconciled-by';
  let cluster: TestCluster | undefined;
  let sharder: SharderProcess | undefined;
  const shards: ManagedProcess[] = [];

  beforeAll(async () => {
    cluster = await startTestCluster();
    const { rest } = cluster;
    for (const namespace of ['sharder-system', objectNamespace, leaseNamespace])
      await createNamespace(rest, namespace);
    const certificates = await webhookCertificates();
    sharder = await startSharder({
      kubeconfigPath: cluster.controlPlane.kubeconfigPath,
      namespace: 'sharder-system',
      identity: 'sharder-0',
      certificates,
      args: ['--leader-elect=false'],
    });
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': objectNamespace } },
      shardLeaseNamespaces: [leaseNamespace],
    });
    // Created before the shards: the sync assigns them when the shards join.
    for (let i = 0; i < 20; i++) {
      await rest.request({
        method: 'POST',
        path: `/api/v1/namespaces/${objectNamespace}/configmaps`,
        body: { metadata: { name: `object-${i}` } },
      });
    }
  }, 120_000);

  afterAll(async () => {
    await Promise.all(shards.map((shard) => shard.kill()));
    await sharder?.stop();
    await cluster?.stop();
  });

  it('join the ring, get objects assigned and reconcile them, and leave on SIGTERM', async () => {
    const rest = cluster?.rest;
    if (rest === undefined) throw new Error('no cluster');
    const kubeconfigPath = cluster?.controlPlane.kubeconfigPath ?? '';
    for (const name of names) {
      const shard = new ManagedProcess(
        name,
        process.execPath,
        [
          join(author.dir, 'controller.ts'),
          `--kubeconfig=${kubeconfigPath}`,
          `--ring=${ring}`,
          `--name=${name}`,
          `--namespace=${leaseNamespace}`,
          `--watch-namespace=${objectNamespace}`,
        ],
        join(dir, `${name}.log`),
      );
      shards.push(shard);
      await shard.waitUntil(async () => {
        const lease = await rest.request<ILease>({
          path: `/apis/coordination.k8s.io/v1/namespaces/${leaseNamespace}/leases/${name}`,
        });
        return lease.spec?.holderIdentity === name;
      }, 30_000);
    }

    const desired = new HashRing(names);
    const byShard = await eventually(async () => {
      const objects = await listObjects(rest, `/api/v1/namespaces/${objectNamespace}/configmaps`);
      const counts = new Map<string, number>();
      for (const { metadata } of objects.filter(({ metadata }) => metadata.name?.startsWith('object-'))) {
        const shard = metadata.labels?.[shardLabel(ring)];
        // Converged: on the shard the hash ring of both wants (scratch-b joins when scratch-a may have them all).
        expect(shard).toBe(desired.shardFor(`/ConfigMap/${objectNamespace}/${metadata.name ?? ''}`));
        // The shard that reconciled the object last is the one it is assigned to.
        expect(metadata.annotations?.[reconciledBy]).toBe(shard);
        counts.set(shard ?? '', (counts.get(shard ?? '') ?? 0) + 1);
      }
      expect([...counts.values()].reduce((sum, count) => sum + count, 0)).toBe(20);
      return counts;
    });
    // Both shards have a share: the hash ring splits 20 objects between two shards.
    expect([...byShard.keys()].sort()).toEqual(names);

    // The installed plugin sees the same: both shards ready, each owning what is labelled for it (the objects,
    // and the namespace's kube-root-ca.crt).
    const labelled = await listObjects(rest, `/api/v1/namespaces/${objectNamespace}/configmaps`);
    const owned = (name: string): number =>
      labelled.filter(({ metadata }) => metadata.labels?.[shardLabel(ring)] === name).length;
    const described = await kubectlRings(author.dir, [
      'describe',
      ring,
      '-o',
      'json',
      `--kubeconfig=${kubeconfigPath}`,
    ]);
    const { shards: members } = JSON.parse(described.stdout) as {
      shards: { name: string; state: string; objects: { configmaps: { owned: number } } }[];
    };
    expect(members.map(({ name, state, objects }) => [name, state, objects.configmaps.owned])).toEqual(
      names.map((name) => [name, 'ready', owned(name)]),
    );

    for (const shard of shards) expect(await shard.stop()).toBe(0);
  });
});
