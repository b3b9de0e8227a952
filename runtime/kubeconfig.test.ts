// The light kubeconfig against client-node's KubeConfig, on the same files: what RestClient takes of each (TLS
// material and credentials) must be the same, so that the sharder connects as it did with client-node.
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import {
  inClusterKubeconfig,
  KubeconfigAccess,
  mergeKubeconfigs,
  needsPlugin,
  parseKubeconfig,
  readKubeconfig,
  tokenFileRereadMs,
} from './kubeconfig.ts';
import type { ClusterAccess } from './rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'light-kubeconfig-'));
mkdirSync(join(dir, 'pki'));
writeFileSync(join(dir, 'pki', 'ca.crt'), 'the CA file');
writeFileSync(join(dir, 'pki', 'client.crt'), 'the client certificate file');
writeFileSync(join(dir, 'pki', 'client.key'), 'the client key file');
const base64 = (text: string): string => Buffer.from(text).toString('base64');

function write(name: string, content: object): string {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify({ apiVersion: 'v1', kind: 'Config', ...content }));
  return path;
}

function single(name: string, cluster: object, user: object): string {
  return write(name, {
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443/', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });
}

/** What RestClient takes of an access: its server, TLS material, headers (names in lower case) and auth. */
async function applied(access: ClusterAccess): Promise<Record<string, unknown>> {
  const options: RequestOptions = {};
  await access.applyToHTTPSOptions(options);
  const headers = Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]);
  const { ca, cert, key, servername, rejectUnauthorized, auth } = options;
  return {
    server: access.getCurrentCluster()?.server,
    ...{ ca, cert, key, servername, rejectUnauthorized, auth },
    headers: Object.fromEntries(headers),
  };
}

function clientNode(path: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}

describe('KubeconfigAccess', () => {
  it.each([
    ['a token and CA data', { 'certificate-authority-data': base64('CA data') }, { token: 'secret' }],
    [
      'client certificate files and a CA file, relative to the kubeconfig',
      { 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' },
      { 'client-certificate': 'pki/client.crt', 'client-key': join(dir, 'pki', 'client.key') },
    ],
    [
      'client certificate data, skipped verification',
      { 'insecure-skip-tls-verify': true },
      { 'client-certificate-data': base64('cert'), 'client-key-data': base64('key') },
    ],
    ['basic auth and impersonation', {}, { username: 'jane', password: 'pw', as: 'bob' }],
    ['a token file', {}, { 'token-file': join(dir, 'pki', 'ca.crt') }],
  ])('applies %s as client-node does', async (name, cluster, user) => {
    const path = single(name.replaceAll(' ', '-'), cluster, user);
    const light = await applied(new KubeconfigAccess(readKubeconfig(path)));
    expect(light).toEqual(await applied(clientNode(path)));
    expect(light.server).toBe('https://127.0.0.1:6443');
  });

  it('applies the in-cluster configuration as client-node does, with the same files', async () => {
    const account = join(dir, 'account');
    mkdirSync(account);
    writeFileSync(join(account, 'token'), 'pod token');
    writeFileSync(join(account, 'ca.crt'), 'cluster CA');
    const kubeConfig = new KubeConfig();
    const env = process.env;
    process.env = { ...env, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    try {
      // loadFromCluster's prefix goes before /var/run/...: the same files under `prefix`.
      const prefix = join(dir, 'prefix');
      mkdirSync(join(prefix, 'var', 'run', 'secrets', 'kubernetes.io'), { recursive: true });
      renameSync(account, join(prefix, 'var', 'run', 'secrets', 'kubernetes.io', 'serviceaccount'));
      kubeConfig.loadFromCluster(prefix);
      const light = new KubeconfigAccess(
        inClusterKubeconfig('10.0.0.1', '443', join(prefix, 'var/run/secrets/kubernetes.io/serviceaccount')),
      );
      expect(await applied(light)).toEqual(await applied(kubeConfig));
    } finally {
      process.env = env;
    }
  });

  it('reads a token file again once a minute, and keeps the last token while it cannot', async () => {
    const tokenFile = join(dir, 'rotating-token');
    writeFileSync(tokenFile, 'first\n');
    let now = 0;
    const access = new KubeconfigAccess(readKubeconfig(single('rotating', {}, { tokenFile })), {
      clock: { now: () => now },
    });
    const authorization = async () => (await applied(access)).headers;
    expect(await authorization()).toEqual({ authorization: 'Bearer first' });
    // As the kubelet does: the new token is written beside and swapped in.
    writeFileSync(`${tokenFile}.new`, 'second');
    renameSync(`${tokenFile}.new`, tokenFile);
    now = tokenFileRereadMs - 1;
    expect(await authorization()).toEqual({ authorization: 'Bearer first' });
    now = tokenFileRereadMs;
    expect(await authorization()).toEqual({ authorization: 'Bearer second' });
    // Read at tokenFileRereadMs: the next read is due a minute after that.
    writeFileSync(tokenFile, 'third');
    now = 2 * tokenFileRereadMs - 1;
    expect(await authorization()).toEqual({ authorization: 'Bearer second' });
    rmSync(tokenFile);
    now = 2 * tokenFileRereadMs;
    expect(await authorization()).toEqual({ authorization: 'Bearer second' });
    // A failed read is tried again at the next request.
    writeFileSync(tokenFile, 'fourth');
    expect(await authorization()).toEqual({ authorization: 'Bearer fourth' });
  });

  it('leaves plugins to client-node', () => {
    const exec = readKubeconfig(single('exec', {}, { exec: { command: 'login' } }));
    const provider = readKubeconfig(single('provider', {}, { 'auth-provider': { name: 'oidc' } }));
    expect([needsPlugin(exec), needsPlugin(provider)]).toEqual([true, true]);
    expect(() => new KubeconfigAccess(exec)).toThrow('user "u" needs a plugin');
    expect(needsPlugin(readKubeconfig(single('token', {}, { token: 't' })))).toBe(false);
  });
});

describe('parseKubeconfig', () => {
  it.each([
    ['clusters: [{ cluster: { server: x } }]', 'clusters[0].name is missing'],
    ['clusters: [{ name: c }]', 'clusters[0].cluster is missing'],
    ['users: [{ user: {} }]', 'users[0].name is missing'],
    ['contexts: [{ name: x, context: { user: u } }]', 'contexts[0].context.cluster is missing'],
    ['users: [{ name: u, user: { token: [a] } }]', 'users[0].user.token must be a string'],
    ['- a list', 'it holds no mapping'],
  ])('refuses %s', (source, message) => {
    expect(() => parseKubeconfig(source, dir)).toThrow(message);
  });

  it('reads YAML, and takes lists that are missing or null as empty', () => {
    expect(parseKubeconfig('clusters: null\ncurrent-context: x\n', dir)).toEqual({
      clusters: [],
      users: [],
      contexts: [],
      currentContext: 'x',
    });
  });
});

describe('mergeKubeconfigs', () => {
  const config = (name: string, currentContext?: string) =>
    parseKubeconfig(
      JSON.stringify({
        clusters: [{ name, cluster: { server: `https://${name}` } }],
        contexts: [{ name, context: { cluster: name } }],
        'current-context': currentContext,
      }),
      dir,
    );

  it("keeps both files' entries, the first first; a current-context set later wins", () => {
    const merged = mergeKubeconfigs(config('a', 'a'), config('b', 'b'));
    expect(merged.clusters.map(({ name }) => name)).toEqual(['a', 'b']);
    expect(merged.currentContext).toBe('b');
    expect(mergeKubeconfigs(config('a', 'a'), config('b')).currentContext).toBe('a');
  });

  it('refuses a name both define, as client-node does', () => {
    expect(() => mergeKubeconfigs(config('a'), config('a'))).toThrow('Duplicate cluster: a');
    const kubeConfig = clientNode(
      write('dup-a', { clusters: [{ name: 'a', cluster: { server: 'https://a' } }] }),
    );
    expect(() => {
      kubeConfig.mergeConfig(kubeConfig);
    }).toThrow('Duplicate cluster: a');
  });
});

describe('inClusterKubeconfig', () => {
  it.each([
    ['10.0.0.1', '443', 'https://10.0.0.1:443'],
    ['fd00::1', '6443', 'https://[fd00::1]:6443'],
    ['kubernetes', '8080', 'http://kubernetes:8080'],
  ])('reaches %s:%s at %s', (host, port, server) => {
    expect(inClusterKubeconfig(host, port).clusters[0]?.server).toBe(server);
  });
});
