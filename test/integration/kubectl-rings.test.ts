// kubectl-rings as a user runs it: a real process (node cmd/kubectl-rings/main.ts) with a kubeconfig file, on
// the real API server, against a ring whose shard Leases are in each state (written here, as shards and the
// sharder would write them) and whose objects are assigned, draining, on a shard that is gone, and unassigned.
// Asserts what it prints (tables, -o json and -o yaml), its errors and its exit codes.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parse, stringify } from 'yaml';
import {
  drainLabel,
  apiVersion,
  drainValue,
  kind,
  ringLabel,
  ringsPath,
  shardLabel,
  type ControllerRing,
} from '../../api/v1alpha1/index.ts';
import { microTime } from '../../runtime/micro-time.ts';
import { RestClient } from '../../runtime/rest.ts';
import { kubeconfigDocument, testClusterAccess } from '../support/kube.ts';
import { runKubectlRings, type PluginResult } from '../support/kubectl-rings.ts';
import { createNamespace, createRing, type Labelled } from '../support/rings.ts';

const ring = 'kubectl-rings';
const shards = 'kubectl-rings-shards';
// Selected by the ring; `excluded` too, but the ring's webhook configuration (as the sharder writes it, with
// the namespaces it excludes) leaves it out; `outside` is not selected.
const inside = 'kubectl-rings-a';
const excluded = 'kubectl-rings-excluded';
const outside = 'kubectl-rings-outside';
const selected = { 'kubectl-rings.test/selected': 'true' };
const rest = new RestClient(testClusterAccess());
const now = Date.now();
let dir: string;
let kubeconfig: string;

/** Runs kubectl-rings with `args`, in an environment of `env` alone (no KUBECONFIG unless given). */
const plugin = (args: string[], env: Record<string, string> = {}): Promise<PluginResult> =>
  runKubectlRings(args, { HOME: dir, ...env });

const secrets = (namespace: string): string => `/api/v1/namespaces/${namespace}/secrets`;
const configMaps = (namespace: string): string => `/api/v1/namespaces/${namespace}/configmaps`;

function create(
  path: string,
  name: string,
  labels: Record<string, string> = {},
  extra = {},
): Promise<Labelled> {
  return rest.request({ method: 'POST', path, body: { metadata: { name, labels, ...extra } } });
}

/** A shard Lease: held by its shard (or by the sharder, once it declared the shard dead), renewed `ago` s ago. */
function lease(namespace: string, name: string, holder: string, ago: number): Promise<unknown> {
  return rest.request({
    method: 'POST',
    path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
    body: {
      metadata: { name, labels: { [ringLabel]: ring } },
      spec: {
        holderIdentity: holder,
        // Long enough that no state changes while the test runs.
        leaseDurationSeconds: 600,
        renewTime: microTime(new Date(now - ago * 1000)),
      },
    },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubectl-rings-'));
  for (const namespace of [shards, outside]) await createNamespace(rest, namespace);
  for (const namespace of [inside, excluded]) await createNamespace(rest, namespace, selected);
  const created = await createRing(rest, ring, {
    resources: [
      { resource: 'secrets', controlledResources: [{ resource: 'configmaps' }] },
      { group: 'kubectl-rings.example.com', resource: 'widgets' },
    ],
    namespaceSelector: { matchLabels: selected },
    shardLeaseNamespaces: [shards],
  });
  // Events the sharder would record on the ring (in default: the ring is cluster-scoped), one a series; and
  // one of another ring's namesake from before (another uid), which is not this ring's.
  for (const [name, uid, reason, ago, series] of [
    [`${ring}.1`, created.metadata?.uid, 'ShardJoined', 600, undefined],
    [
      `${ring}.2`,
      created.metadata?.uid,
      'ShardExpired',
      300,
      { count: 3, lastObservedTime: microTime(new Date(now - 60_000)) },
    ],
    [`${ring}.3`, 'another-uid', 'ShardDead', 900, undefined],
  ] as const) {
    await rest.request({
      method: 'POST',
      path: '/apis/events.k8s.io/v1/namespaces/default/events',
      body: {
        metadata: { name },
        eventTime: microTime(new Date(now - ago * 1000)),
        ...(series === undefined ? {} : { series }),
        reportingController: 'controller-rings.io/sharder',
        reportingInstance: 'sharder-0',
        action: 'Test',
        reason,
        regarding: { apiVersion, kind, name: ring, uid },
        note: `${reason} of the test`,
        type: reason === 'ShardJoined' ? 'Normal' : 'Warning',
      },
    });
  }
  // The status the sharder would write; get prints it.
  await rest.request({
    method: 'PATCH',
    path: `${ringsPath}/${ring}/status`,
    contentType: 'application/merge-patch+json',
    body: {
      status: {
        observedGeneration: 1,
        shards: 5,
        availableShards: 3,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'ShardsAvailable',
            message: '3 of 5 shards are available',
            lastTransitionTime: new Date(now).toISOString().replace(/\.\d+Z$/, 'Z'),
          },
        ],
      },
    },
  });
  // The sharder's webhook configuration for the ring: only its namespaceSelector matters here. It matches no
  // object (the objectSelector), so it intercepts nothing.
  await rest.request({
    method: 'POST',
    path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
    body: {
      metadata: { name: `controller-rings-${ring}` },
      webhooks: [
        {
          name: 'sharder.controller-rings.io',
          clientConfig: { url: 'https://127.0.0.1:1/webhook' },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], resources: ['secrets'], operations: ['CREATE'] }],
          namespaceSelector: {
            matchLabels: selected,
            matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [excluded] }],
          },
          objectSelector: { matchLabels: { 'kubectl-rings.test/never': 'true' } },
          failurePolicy: 'Ignore',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
        },
      ],
    },
  });

  await lease(shards, 'ready-1', 'ready-1', 0);
  await lease(shards, 'expired-1', 'expired-1', 900);
  await lease(shards, 'uncertain-1', 'uncertain-1', 3000);
  await lease(shards, 'dead-1', 'sharder/sharder-0', 0);
  await lease(shards, 'orphaned-1', 'sharder/sharder-0', 3000);
  await lease(inside, 'stray', 'stray', 0);

  const shard = shardLabel(ring);
  await create(secrets(inside), 'owned-1', { [shard]: 'ready-1' });
  await create(secrets(inside), 'owned-2', { [shard]: 'ready-1' });
  await create(secrets(inside), 'draining', { [shard]: 'ready-1', [drainLabel(ring)]: drainValue });
  await create(secrets(inside), 'on-expired', { [shard]: 'expired-1' });
  await create(secrets(inside), 'on-gone', { [shard]: 'gone' });
  const owner = await create(secrets(inside), 'free-1');
  await create(secrets(inside), 'free-2');
  // Not the ring's: in a namespace the sharder excludes, or one the ring does not select.
  await create(secrets(excluded), 'excluded');
  await create(secrets(outside), 'outside');
  await create(configMaps(inside), 'controlled-owned', { [shard]: 'ready-1' });
  await create(
    configMaps(inside),
    'controlled-free',
    {},
    {
      ownerReferences: [
        { apiVersion: 'v1', kind: 'Secret', name: 'free-1', uid: owner.metadata.uid, controller: true },
      ],
    },
  );
  // No controller: not an object of the ring (as kube-root-ca.crt, in every namespace).
  await create(configMaps(inside), 'uncontrolled');

  // The admin's kubeconfig, as a user's file in YAML: a cluster, a user and a context.
  const admin = JSON.parse(await readFile(process.env.KUBECONFIG ?? '', 'utf8')) as {
    clusters: { cluster: object }[];
    users: { user: object }[];
  };
  kubeconfig = join(dir, 'admin.yaml');
  const [cluster, user] = [admin.clusters[0]?.cluster ?? {}, admin.users[0]?.user ?? {}];
  await writeFile(kubeconfig, stringify(kubeconfigDocument(cluster, 'admin', user)));
}, 60_000);

afterAll(async () => {
  await rest.request({ method: 'DELETE', path: `${ringsPath}/${ring}` });
  for (const n of [1, 2, 3]) {
    await rest.request({
      method: 'DELETE',
      path: `/apis/events.k8s.io/v1/namespaces/default/events/${ring}.${n}`,
    });
  }
  await rest.request({
    method: 'DELETE',
    path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-${ring}`,
  });
  for (const namespace of [shards, inside, excluded, outside])
    await rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}` });
  rest.close();
  await rm(dir, { recursive: true, force: true });
});

describe('kubectl rings get', () => {
  it("prints the ring's readiness, available and total shards and age, as the CRD's columns", async () => {
    const result = await plugin(['get', ring, `--kubeconfig=${kubeconfig}`]);
    expect(result).toEqual({ code: 0, stdout: expect.any(String), stderr: '' });
    const [header, row, ...rest] = result.stdout.split('\n');
    expect(header).toMatch(/^NAME +READY +AVAILABLE +SHARDS +AGE$/);
    expect(row).toMatch(/^kubectl-rings +True +3 +5 +\d+s$/);
    expect(rest).toEqual(['']);
  });

  it('lists every ring without names, and prints -o json as kubectl does: the object, or a List', async () => {
    const all = await plugin(['get', '--kubeconfig', kubeconfig]);
    expect(all.code).toBe(0);
    expect(all.stdout).toMatch(/^kubectl-rings +True +3 +5 /m);

    const one = await plugin(['get', ring, '-o', 'json', '--kubeconfig', kubeconfig]);
    expect(one.code).toBe(0);
    const object = JSON.parse(one.stdout) as ControllerRing;
    expect(object).toMatchObject({ kind: 'ControllerRing', metadata: { name: ring }, status: { shards: 5 } });

    const list = await plugin(['get', '-ojson', '--kubeconfig', kubeconfig]);
    const parsed = JSON.parse(list.stdout) as { kind: string; items: ControllerRing[] };
    expect(parsed.kind).toBe('List');
    expect(parsed.items.map(({ metadata }) => metadata?.name)).toContain(ring);

    const yaml = await plugin(['get', ring, '--output=yaml', '--kubeconfig', kubeconfig]);
    expect(parse(yaml.stdout)).toEqual(object);
  });

  it('prints the rings found and a NotFound error for a missing one, exiting 1', async () => {
    const result = await plugin(['get', ring, 'missing', '--kubeconfig', kubeconfig]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^kubectl-rings +True/m);
    expect(result.stderr).toBe(
      'Error from server (NotFound): controllerrings.sharding.controller-rings.io "missing" not found\n',
    );
  });
});

describe('kubectl rings describe', () => {
  it("prints each shard's state and Lease, the objects it owns and drains, and the objects unassigned", async () => {
    const result = await plugin(['describe', ring, '--kubeconfig', kubeconfig]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const { stdout } = result;
    expect(stdout).toMatch(/^Name: +kubectl-rings$/m);
    expect(stdout).toMatch(/^Ready: +True \(ShardsAvailable\)$/m);
    expect(stdout).toMatch(/^Shards: +3 available of 5$/m);
    expect(stdout).toMatch(
      /^Resources: +secrets, configmaps \(controlled\), widgets\.kubectl-rings\.example\.com$/m,
    );
    const lines = (section: string): string[] => {
      const start = stdout.indexOf(`\n${section}:\n`);
      expect(start).toBeGreaterThan(0);
      const body = (stdout.slice(start + section.length + 3).split('\n\n')[0] ?? '').trimEnd();
      return body.split('\n').map((line) => line.trim().split(/ {2,}/).join(' | '));
    };
    // The Leases were renewed 0 s to 3000 s before the test began.
    expect(lines('Shards')).toEqual([
      'NAME | STATE | AVAILABLE | LEASE | LEASE AGE | RENEWED',
      expect.stringMatching(/^dead-1 \| dead \| false \| kubectl-rings-shards\/dead-1 \| \d+s \| \d+s$/),
      expect.stringMatching(
        /^expired-1 \| expired \| true \| kubectl-rings-shards\/expired-1 \| \d+s \| 1[45]m$/,
      ),
      expect.stringMatching(
        /^orphaned-1 \| orphaned \| false \| kubectl-rings-shards\/orphaned-1 \| \d+s \| 5\dm$/,
      ),
      expect.stringMatching(/^ready-1 \| ready \| true \| kubectl-rings-shards\/ready-1 \| \d+s \| \d+s$/),
      expect.stringMatching(
        /^uncertain-1 \| uncertain \| true \| kubectl-rings-shards\/uncertain-1 \| \d+s \| 5\dm$/,
      ),
    ]);
    const objects = lines('Objects');
    expect(objects).toEqual(
      expect.arrayContaining([
        'RESOURCE | SHARD | OBJECTS | DRAINING',
        'secrets | ready-1 | 3 | 1',
        'secrets | expired-1 | 1 | 0',
        'secrets | dead-1 | 0 | 0',
        'secrets | <other shards> | 1',
        'secrets | <unassigned> | 2',
        'configmaps | ready-1 | 1 | 0',
        'configmaps | <other shards> | 0',
        'configmaps | <unassigned> | 1',
      ]),
    );
    expect(objects).toHaveLength(1 + 2 * 7);
    expect(stdout).toMatch(/^Not served by the API server: widgets\.kubectl-rings\.example\.com$/m);
    expect(lines('Ignored Leases')).toEqual([
      'LEASE | REASON | MESSAGE',
      expect.stringMatching(
        /^kubectl-rings-a\/stray \| UntrustedNamespace \| shard Lease kubectl-rings-a\/stray is ignored/,
      ),
    ]);
    // The ring's Events, oldest first, as kubectl describe shows them; not those of a namesake of before.
    expect(lines('Events')).toEqual([
      'TYPE | REASON | AGE | FROM | MESSAGE',
      expect.stringMatching(
        /^Normal \| ShardJoined \| 10m\d*s? \| controller-rings.io\/sharder \| ShardJoined of the test$/,
      ),
      expect.stringMatching(
        /^Warning \| ShardExpired \| 6\ds \(x3 over 5m\d*s?\) \| controller-rings.io\/sharder \| ShardExpired of the test$/,
      ),
    ]);
  });

  it('prints the same as JSON with -o json (and YAML with -o yaml), times instead of ages', async () => {
    const result = await plugin(['describe', ring, '-o', 'json', '--kubeconfig', kubeconfig]);
    expect(result.code).toBe(0);
    const yaml = await plugin(['describe', ring, '-o', 'yaml', '--kubeconfig', kubeconfig]);
    expect(parse(yaml.stdout)).toEqual(JSON.parse(result.stdout));
    const none = { owned: 0, draining: 0 };
    const shard = (name: string, state: string, available: boolean, objects: object) => ({
      name,
      namespace: shards,
      state,
      available,
      holderIdentity: state === 'dead' || state === 'orphaned' ? 'sharder/sharder-0' : name,
      creationTimestamp: expect.any(String),
      renewTime: expect.any(String),
      objects: { secrets: none, configmaps: none, ...objects },
    });
    expect(JSON.parse(result.stdout)).toEqual({
      name: ring,
      ready: {
        status: 'True',
        reason: 'ShardsAvailable',
        message: '3 of 5 shards are available',
        lastTransitionTime: expect.any(String),
      },
      generation: 1,
      observedGeneration: 1,
      creationTimestamp: expect.any(String),
      shards: [
        shard('dead-1', 'dead', false, {}),
        shard('expired-1', 'expired', true, { secrets: { owned: 1, draining: 0 } }),
        shard('orphaned-1', 'orphaned', false, {}),
        shard('ready-1', 'ready', true, {
          secrets: { owned: 3, draining: 1 },
          configmaps: { owned: 1, draining: 0 },
        }),
        shard('uncertain-1', 'uncertain', true, {}),
      ],
      resources: [
        {
          name: 'secrets',
          group: '',
          resource: 'secrets',
          controlled: false,
          served: true,
          otherShards: 1,
          unassigned: 2,
        },
        {
          name: 'configmaps',
          group: '',
          resource: 'configmaps',
          controlled: true,
          served: true,
          otherShards: 0,
          unassigned: 1,
        },
        {
          name: 'widgets.kubectl-rings.example.com',
          group: 'kubectl-rings.example.com',
          resource: 'widgets',
          controlled: false,
          served: false,
        },
      ],
      ignoredLeases: [
        {
          namespace: inside,
          name: 'stray',
          reason: 'UntrustedNamespace',
          message: expect.stringContaining('does not trust namespace kubectl-rings-a'),
        },
      ],
      events: [
        {
          type: 'Normal',
          reason: 'ShardJoined',
          note: 'ShardJoined of the test',
          from: 'controller-rings.io/sharder',
          firstTime: expect.any(String),
          lastTime: expect.any(String),
          count: 1,
        },
        {
          type: 'Warning',
          reason: 'ShardExpired',
          note: 'ShardExpired of the test',
          from: 'controller-rings.io/sharder',
          firstTime: expect.any(String),
          lastTime: expect.any(String),
          count: 3,
        },
      ],
    });
  });

  it('fails as kubectl does for a ring that does not exist', async () => {
    expect(await plugin(['describe', 'missing', '--kubeconfig', kubeconfig])).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'Error from server (NotFound): controllerrings.sharding.controller-rings.io "missing" not found\n',
    });
  });
});

describe('the kubeconfig', () => {
  let unreachable: string;

  beforeAll(async () => {
    // A second file whose current-context is a server nobody listens on: merged after the admin's, it wins.
    unreachable = join(dir, 'unreachable.yaml');
    await writeFile(
      unreachable,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'nowhere', cluster: { server: 'https://127.0.0.1:1' } }],
        contexts: [{ name: 'nowhere', context: { cluster: 'nowhere' } }],
        'current-context': 'nowhere',
      }),
    );
  });

  it("merges KUBECONFIG's files, the last current-context winning, and --context picks another", async () => {
    const env = { KUBECONFIG: [kubeconfig, unreachable].join(delimiter) };
    const failed = await plugin(['get', ring], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/^Unable to connect to the server: .*ECONNREFUSED.*\n$/);
    const result = await plugin(['get', ring, '--context', 'admin'], env);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^kubectl-rings +True/m);
  });

  it('reads ~/.kube/config without KUBECONFIG or --kubeconfig', async () => {
    const home = join(dir, 'home');
    expect(await plugin(['get', ring], { HOME: home })).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringMatching(
        /^error: --kubeconfig: is required: KUBECONFIG is not set, \S+\/home\/.kube\/config does not exist/,
      ),
    });
    await mkdir(join(home, '.kube'), { recursive: true });
    await writeFile(join(home, '.kube', 'config'), await readFile(kubeconfig));
    expect((await plugin(['get', ring], { HOME: home })).stdout).toMatch(/^kubectl-rings +True/m);
  });

  it('names what is wrong: a missing file, an unknown context', async () => {
    expect(await plugin(['get', '--kubeconfig', join(dir, 'none')])).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: --kubeconfig: ${join(dir, 'none')} does not exist\n`,
    });
    expect(await plugin(['get', '--kubeconfig', kubeconfig, '--context', 'nope'])).toEqual({
      code: 1,
      stdout: '',
      stderr: `error: --context: ${kubeconfig} has no context "nope"\n`,
    });
  });
});

describe('usage', () => {
  it('prints help with --help and -h, exiting 0', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await plugin([flag]);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^ {2}kubectl rings describe RING/m);
    }
  });

  it('refuses an unknown flag or command naming it, exiting 1', async () => {
    expect(await plugin(['get', '--watch'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "error: unknown flag: --watch\nSee 'kubectl rings --help' for usage.\n",
    });
    expect((await plugin(['delete', ring])).stderr).toBe(
      'error: unknown command "delete" for "kubectl rings"\nSee \'kubectl rings --help\' for usage.\n',
    );
  });
});
