// The sharder's kubeconfig (cmd/sharder/kubeconfig.ts, without client-node) on a real API server: each way
// a kubeconfig gives credentials and TLS reaches it as that user, which the API server tells (SelfSubjectReview).
// The control plane is this file's own: it trusts client certificates of a CA made here.
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { loadKubeConfig } from '../../cmd/sharder/kubeconfig.ts';
import { createCertificateAuthority, type KeyPair } from '../../runtime/certificates.ts';
import { currentContext, readKubeconfig } from '../../runtime/kubeconfig.ts';
import { ApiError, RestClient } from '../../runtime/rest.ts';
import { startControlPlane, type ControlPlane } from '../control-plane/control-plane.ts';

let controlPlane: ControlPlane;
let dir: string;
let adminToken: string;
let client: KeyPair;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kubeconfig-credentials-'));
  const authority = await createCertificateAuthority('kubeconfig-credentials-clients');
  client = await authority.sign({ commonName: 'cert-user', organizations: ['cert-group'], usage: 'client' });
  await mkdir(join(dir, 'pki'));
  await Promise.all([
    writeFile(join(dir, 'client-ca.crt'), authority.certificate),
    writeFile(join(dir, 'pki', 'client.crt'), client.certificate),
    writeFile(join(dir, 'pki', 'client.key'), client.privateKey),
  ]);
  controlPlane = await startControlPlane({
    apiServerArgs: [`--client-ca-file=${join(dir, 'client-ca.crt')}`],
  });
  const { user } = currentContext(readKubeconfig(controlPlane.kubeconfigPath));
  adminToken = user?.token ?? '';
});

afterAll(async () => {
  await controlPlane.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A kubeconfig for this control plane with `user` (and cluster fields), in `dir`, loaded as the sharder does. */
async function connect(name: string, user: object, cluster: object = {}): Promise<RestClient> {
  const path = join(dir, `${name}.kubeconfig`);
  const kubeconfig = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'test',
        cluster: {
          server: controlPlane.server,
          'certificate-authority': controlPlane.caCertificatePath,
          ...cluster,
        },
      },
    ],
    users: [{ name: 'user', user }],
    contexts: [{ name: 'test', context: { cluster: 'test', user: 'user' } }],
    'current-context': 'test',
  };
  await writeFile(path, JSON.stringify(kubeconfig));
  return new RestClient(await loadKubeConfig({ flag: path, env: {}, home: dir }));
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
    expect(identity).toMatchObject({ username: 'cert-user', groups: expect.arrayContaining(['cert-group']) });
  });

  it('sends a token, impersonating the user the kubeconfig names', async () => {
    expect(await using(await connect('token', { token: adminToken }), whoAmI)).toMatchObject({
      username: 'admin',
    });
    const impersonating = await connect('as', { token: adminToken, as: 'jane' });
    expect(await using(impersonating, whoAmI)).toMatchObject({ username: 'jane' });
  });

  it('reads its token file again when the file is replaced', async () => {
    const tokenFile = join(dir, 'token');
    await writeFile(tokenFile, 'not-a-token');
    await using(await connect('token-file', { tokenFile }), async (rest) => {
      await expect(whoAmI(rest)).rejects.toMatchObject({ code: 401 });
      // As the kubelet rotates a projected token: written beside, then swapped in.
      await writeFile(`${tokenFile}.new`, `${adminToken}\n`);
      await rename(`${tokenFile}.new`, tokenFile);
      expect(await whoAmI(rest)).toMatchObject({ username: 'admin' });
    });
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
