// The cdk8s app of docs/shard-your-controller.md, "Manifests with cdk8s", is what an author writes for a ring and
// its controller: it stays about 20 lines, runs as it is (with node, its imports pointed at this checkout), and
// grants what the example's deploy/ grants.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { yamlDocuments } from './generated-files.ts';

interface Synthesized {
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

const guide = readFileSync(new URL('../docs/shard-your-controller.md', import.meta.url), 'utf8');
const section = guide.split(/^## /m).find((part) => part.startsWith('Manifests with cdk8s\n')) ?? '';
const app = /```ts\n([\s\S]*?)```/.exec(section)?.[1] ?? '';

/** The app with its two imports pointed at the constructs' entry point and at cdk8s. */
function runnable(source: string): string {
  const specifiers = {
    'controller-rings/cdk8s': new URL('./index.ts', import.meta.url).href,
    cdk8s: pathToFileURL(createRequire(import.meta.url).resolve('cdk8s')).href,
  };
  let result = source;
  for (const [specifier, url] of Object.entries(specifiers)) {
    const from = ` from '${specifier}';`;
    if (result.split(from).length !== 2) throw new Error(`the app should import ${specifier} once`);
    result = result.replace(from, ` from '${url}';`);
  }
  return result;
}

const example = yamlDocuments(
  readFileSync(new URL('../examples/configmap-digest/deploy/configmap-digest.yaml', import.meta.url), 'utf8'),
) as Synthesized[];

let dir: string;
let objects: Synthesized[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'author-app-'));
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  await writeFile(join(dir, 'app.ts'), runnable(app));
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  await promisify(execFile)(process.execPath, ['app.ts'], { cwd: dir, env });
  const dist = join(dir, 'dist');
  await mkdir(dist, { recursive: true });
  const files = await readdir(dist);
  expect(files).toEqual(['configmap-digest.k8s.yaml']);
  objects = yamlDocuments(await readFile(join(dist, files[0] ?? ''), 'utf8')) as Synthesized[];
}, 30_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function find(list: Synthesized[], kind: string, name: string): Synthesized | undefined {
  return list.find((object) => object.kind === kind && object.metadata.name === name);
}

describe("the guide's cdk8s app for a ring and its controller", () => {
  it('fits in 20 lines, blank ones aside', () => {
    expect(app.split('\n').filter((line) => line.trim() !== '').length).toBeLessThanOrEqual(20);
  });

  it("defines the example's objects, under the same names", () => {
    const names = (list: Synthesized[]) =>
      list.map(({ kind, metadata }) => `${kind} ${metadata.namespace ?? '-'}/${metadata.name}`);
    expect(names(objects)).toEqual(names(example));
  });

  it('grants the shards and the sharder what the example grants', () => {
    const rbac = example.filter(({ kind }) => /^(Cluster)?Role(Binding)?$/.test(kind));
    expect(rbac.map(({ kind }) => kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRole',
      'ClusterRoleBinding',
      'ClusterRoleBinding',
      'Role',
      'RoleBinding',
    ]);
    for (const expected of rbac) {
      const { rules, roleRef, subjects } = expected;
      expect(find(objects, expected.kind, expected.metadata.name)).toMatchObject({
        ...(rules === undefined ? {} : { rules }),
        ...(roleRef === undefined ? {} : { roleRef, subjects }),
      });
    }
  });

  it("trusts the shards' namespace, and runs them knowing their pod name and namespace", () => {
    expect(find(objects, 'ControllerRing', 'configmap-digest')).toMatchObject({
      spec: {
        resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
        shardLeaseNamespaces: ['configmap-digest'],
      },
    });
    const container = (list: Synthesized[]) =>
      (find(list, 'Deployment', 'configmap-digest') as unknown as IDeployment).spec?.template.spec
        ?.containers[0] as unknown as Record<string, unknown>;
    // The same pod conventions, probes and resources; the example adds its image, command and a flag.
    const { args: exampleArgs, ...fromExample } = container(example);
    const { args, ...fromApp } = container(objects);
    expect({ ...fromApp, image: undefined }).toEqual({
      ...fromExample,
      image: undefined,
      command: undefined,
    });
    expect(exampleArgs).toEqual(expect.arrayContaining(args as string[]));
  });
});
