// The sharder's kubeconfig (runtime/load-kubeconfig.ts, without client-node) on a real API server: each way
// a kubeconfig gives credentials and TLS reaches it as that user, which the API server tells (SelfSubjectReview);
// and the sharder program, with a token or a client certificate, never loads @kubernetes/client-node (~85 MiB
// of resident memory), which it loads for an exec plugin only. The control plane is this file's own: it
// trusts client certificates of a CA made here, and the sharder acts on every ring in its cluster.
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import { createCertificateAuthority, type KeyPair } from '../../runtime/certificates.ts';
import {
  currentContext,
  KubeconfigAccess,
  readKubeconfig,
  tokenFileRereadMs,
} from '../../runtime/kubeconfig.ts';
import { loadKubeConfig } from '../../runtime/load-kubeconfig.ts';
import { ApiError, RestClient } from '../../runtime/rest.ts';
import type { ControlPlane } from '../control-plane/control-plane.ts';
import {
  createConfigMap,
  createTwoShardConfigMapRing,
  webhookEffective,
} from '../support/configmap-rings.ts';
import type { FakeShard } from '../support/fake-shard.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { kubeconfigDocument } from '../support/kube.ts';
import { createNamespace } from '../support/rings.ts';
import { startSharder, webhookCertificates, type WebhookFiles } from '../support/sharder.ts';

let cluster: TestCluster;
let controlPlane: ControlPlane;
let dir: string;
let adminToken: string;
let client: KeyPair;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeconfig-credentials-'));
  const authority = await createCertificateAuthority('kubeconfig-credentials-clients');
  // In system:masters, as the sharder needs its permissions.
  client = await authority.sign({
    commonName: 'cert-user',
    organizations: ['system:masters'],
    usage: 'client',
  });
  await mkdir(join(dir, 'pki'));
  await Promise.all([
    writeFile(join(dir, 'client-ca.crt'), authority.certificate),
    writeFile(join(dir, 'pki', 'client.crt'), client.certificate),
    writeFile(join(dir, 'pki', 'client.key'), client.privateKey),
  ]);
  cluster = await startTestCluster({ apiServerArgs: [`--client-ca-file=${join(dir, 'client-ca.crt')}`] });
  controlPlane = cluster.controlPlane;
  const { user } = currentContext(readKubeconfig(controlPlane.kubeconfigPath));
  adminToken = user?.token ?? '';
});

afterAll(async () => {
  await cluster.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A client with a kubeconfig for this control plane with `user` (and cluster fields), loaded as the sharder does. */
async function connect(name: string, user: object, cluster: object = {}): Promise<RestClient> {
  const path = await writeKubeconfig(name, user, cluster);
  return new RestClient(await loadKubeConfig({ flag: path, env: {}, home: dir }));
}

/** Writes a kubeconfig for this control plane with `user` (and cluster fields) to `dir`; returns its path. */
async function writeKubeconfig(name: string, user: object, cluster: object = {}): Promise<string> {
  const path = join(dir, `${name}.kubeconfig`);
  const kubeconfig = kubeconfigDocument(
    { server: controlPlane.server, 'certificate-authority': controlPlane.caCertificatePath, ...cluster },
    'user',
    user,
  );
  await writeFile(path, JSON.stringify(kubeconfig));
  return path;
}

/** Who the API server takes the client's requests for. */
async function whoAmI(rest: RestClient): Promise<{ username: string; groups: string[] }> {
  const review = await rest.request<{ status: { userInfo: { username: string; groups: string[] } } }>({
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
  });
  return review.status.userInfo;
}

async function using<T>(rest: RestClient, run: (rest: RestClient) => Promise<T>): Promise<T> {
  try {
    return await run(rest);
  } finally {
    rest.close();
  }
}

describe("the sharder's kubeconfig on a real API server", () => {
  it.each([
    [
      'client certificate files, relative to the kubeconfig',
      () => ({ 'client-certificate': 'pki/client.crt', 'client-key': 'pki/client.key' }),
    ],
    [
      'client certificate data',
      () => ({
        'client-certificate-data': Buffer.from(client.certificate).toString('base64'),
        'client-key-data': Buffer.from(client.privateKey).toString('base64'),
      }),
    ],
  ])('authenticates with %s', async (name, user) => {
    const identity = await using(await connect(name.replaceAll(' ', '-'), user()), whoAmI);
    expect(identity).toMatchObject({
      username: 'cert-user',
      groups: expect.arrayContaining(['system:masters']),
    });
  });

  it('sends a token, impersonating the user the kubeconfig names', async () => {
    expect(await using(await connect('token', { token: adminToken }), whoAmI)).toMatchObject({
      username: 'admin',
    });
    const impersonating = await connect('as', { token: adminToken, as: 'jane' });
    expect(await using(impersonating, whoAmI)).toMatchObject({ username: 'jane' });
  });

  it('reads its token file again a minute after it read it, when the file was replaced', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'not-a-token');
    let now = 0;
    const path = await writeKubeconfig('token-file', { tokenFile });
    const access = new KubeconfigAccess(readKubeconfig(path), { clock: { now: () => now } });
    await using(new RestClient(access), async (rest) => {
      await expect(whoAmI(rest)).rejects.toMatchObject({ code: 401 });
      // As the kubelet rotates a projected token: written beside, then swapped in.
      await writeFile(`${tokenFile}.new`, `${adminToken}\n`);
      await rename(`${tokenFile}.new`, tokenFile);
      now = tokenFileRereadMs;
      expect(await whoAmI(rest)).toMatchObject({ username: 'admin' });
    });
  });

  it("reaches it in-cluster, with the service account's token and CA", async () => {
    const account = join(dir, 'serviceaccount');
    await mkdir(account);
    await writeFile(join(account, 'token'), adminToken);
    await writeFile(join(account, 'ca.crt'), await readFile(controlPlane.caCertificatePath));
    const { hostname, port } = new URL(controlPlane.server);
    const access = await loadKubeConfig({
      flag: undefined,
      env: { KUBERNETES_SERVICE_HOST: hostname, KUBERNETES_SERVICE_PORT: port },
      home: join(dir, 'no-home'),
      serviceAccount: account,
    });
    expect(await using(new RestClient(access), whoAmI)).toMatchObject({ username: 'admin' });
  });

  it('verifies the server with its CA, for the tls-server-name when one is set', async () => {
    const user = { token: adminToken };
    // The serving certificate names 127.0.0.1 and kubernetes, not elsewhere.invalid.
    const named = await connect('server-name', user, { 'tls-server-name': 'kubernetes' });
    expect(await using(named, whoAmI)).toMatchObject({ username: 'admin' });
    const misnamed = await connect('wrong-server-name', user, { 'tls-server-name': 'elsewhere.invalid' });
    const refused = await using(misnamed, whoAmI).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ApiError);
    expect(refused).toMatchObject({ code: 0, message: expect.stringContaining('elsewhere.invalid') });
    const unverified = await connect('no-ca', user, { 'certificate-authority': undefined });
    await expect(using(unverified, whoAmI)).rejects.toMatchObject({ code: 0 });
    const skipped = await connect('skip-verify', user, {
      'certificate-authority': undefined,
      'insecure-skip-tls-verify': true,
    });
    expect(await using(skipped, whoAmI)).toMatchObject({ username: 'admin' });
  });
});

const moduleLoads = fileURLToPath(new URL('../support/module-loads.ts', import.meta.url));

describe('the sharder program', () => {
  const sharderNamespace = 'sharder-system';
  const objects = 'kubeconfig-objects';
  const shards: FakeShard[] = [];
  let certificates: WebhookFiles;

  beforeAll(async () => {
    certificates = await webhookCertificates();
    await createNamespace(cluster.rest, sharderNamespace);
    await createNamespace(cluster.rest, objects);
  });

  afterAll(() => {
    for (const shard of shards) shard.crash();
  });

  /** Runs a sharder with `kubeconfigPath` until `work` is done; the modules it loaded (URLs), from its log. */
  async function modulesLoaded(
    identity: string,
    kubeconfigPath: string,
    work: () => Promise<void> = () => Promise.resolve(),
  ): Promise<string[]> {
    const sharder = await startSharder({
      kubeconfigPath,
      namespace: sharderNamespace,
      identity,
      certificates,
      nodeArgs: ['--import', moduleLoads],
    });
    try {
      await work();
    } finally {
      expect(await sharder.stop()).toBe(0);
    }
    const log = await readFile(sharder.logPath, 'utf8');
    return [...log.matchAll(/^module-load (.*)$/gm)].map((match) => match[1] ?? '');
  }

  /** The packages in node_modules that `modules` come from. */
  function packagesOf(modules: string[]): string[] {
    const names = modules.map((url) => /\/node_modules\/(@[^/]+\/[^/]+|[^/]+)\//.exec(url)?.[1]);
    return [...new Set(names.filter((name) => name !== undefined))];
  }

  async function packagesLoaded(identity: string, kubeconfigPath: string): Promise<string[]> {
    return packagesOf(await modulesLoaded(identity, kubeconfigPath));
  }

  it('loads neither client-node nor what it needs on rare paths only, while it leads, assigns and syncs', async () => {
    const ring = 'kubeconfig';
    const modules = await modulesLoaded('sharder-token', controlPlane.kubeconfigPath, async () => {
      await createTwoShardConfigMapRing(cluster.rest, shards, {
        ring,
        shardNamespace: sharderNamespace,
        durationSeconds: 600,
      });
      await webhookEffective(cluster.rest, ring, objects);
      const object = await createConfigMap(cluster.rest, objects, 'assigned');
      expect(object.metadata.labels?.[shardLabel(ring)]).toBeDefined();
    });
    const packages = packagesOf(modules);
    // The hook saw the packages the sharder does load, and a module bundled in Node (the exit's listing).
    expect(packages).toEqual(expect.arrayContaining(['pino', 'prom-client']));
    expect(modules).toContainEqual(expect.stringMatching(/^node:internal\/deps\//));
    expect(packages).not.toContain('@kubernetes/client-node');
    // A terminal's log format; the YAML parser, for a kubeconfig that is no JSON (this one is) or a config file.
    expect(packages).not.toContain('pino-pretty');
    expect(packages).not.toContain('yaml');
    // No undici: the REST client is on node's own HTTP client (runtime/connections.ts); nor Node's own copy
    // of undici, which an ES import of node:http loads (runtime/node-http.ts).
    expect(packages).not.toContain('undici');
    expect(modules).not.toContain('node:internal/deps/undici/undici');
  });

  it('never loads client-node with a client certificate', async () => {
    const path = await writeKubeconfig('sharder-certificate', {
      'client-certificate': 'pki/client.crt',
      'client-key': 'pki/client.key',
    });
    const packages = await packagesLoaded('sharder-certificate', path);
    expect(packages).toContain('pino');
    expect(packages).not.toContain('@kubernetes/client-node');
  });

  it('loads client-node for an exec plugin, and reaches the API server with its token', async () => {
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: adminToken },
    };
    const path = await writeKubeconfig('sharder-exec', {
      exec: {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: process.execPath,
        args: ['-e', `console.log(${JSON.stringify(JSON.stringify(credential))})`],
        interactiveMode: 'Never',
      },
    });
    expect(await packagesLoaded('sharder-exec', path)).toContain('@kubernetes/client-node');
  });
});
