import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it, jest } from '@jest/globals';
import { tokenFileRereadMs } from './kubeconfig.ts';
import { loadKubeConfig, type KubeConfigSources } from './load-kubeconfig.ts';
import type { ClusterAccess } from './rest.ts';

const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
const home = join(dir, 'home');

function kubeconfig(name: string, content: Record<string, string>): string {
  const defaults: Record<string, string> = {
    clusters: "[{ name: test, cluster: { server: 'https://127.0.0.1:6443' } }]",
    users: '[{ name: admin, user: { token: secret } }]',
    contexts: '[{ name: test, context: { cluster: test, user: admin } }]',
    'current-context': 'test',
  };
  const fields = { ...defaults, ...content };
  const path = join(dir, name);
  writeFileSync(
    path,
    [
      'apiVersion: v1',
      'kind: Config',
      ...Object.entries(fields).map(([key, value]) => `${key}: ${value}`),
    ].join('\n'),
  );
  return path;
}

function load(sources: Partial<KubeConfigSources>): Promise<ClusterAccess> {
  return loadKubeConfig({
    flag: undefined,
    env: {},
    home,
    serviceAccount: join(dir, 'no-account'),
    ...sources,
  });
}

/** The authorization header `access` sends. */
async function authorization(access: ClusterAccess): Promise<unknown> {
  const options: RequestOptions = {};
  await access.applyToHTTPSOptions(options);
  const headers = Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]);
  return (Object.fromEntries(headers) as Record<string, unknown>).authorization;
}

describe('loadKubeConfig', () => {
  it('loads --kubeconfig', async () => {
    const path = kubeconfig('good', {});
    expect((await load({ flag: path })).getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
  });

  it('merges the files of KUBECONFIG', async () => {
    const clusters = kubeconfig('clusters', { users: '[]', contexts: '[]', 'current-context': "''" });
    const rest = kubeconfig('rest', { clusters: '[]' });
    const access = await load({ env: { KUBECONFIG: `${clusters}${delimiter}${rest}` } });
    expect(await authorization(access)).toBe('Bearer secret');
  });

  it('takes the last current-context of KUBECONFIG, and refuses a name two files define', async () => {
    const first = kubeconfig('first', {
      clusters: "[{ name: test, cluster: { server: 'https://first:6443' } }]",
    });
    const second = kubeconfig('second', {
      clusters: "[{ name: other, cluster: { server: 'https://second:6443' } }]",
      users: '[]',
      contexts: '[{ name: other, context: { cluster: other, user: admin } }]',
      'current-context': 'other',
    });
    const access = await load({ env: { KUBECONFIG: `${first}${delimiter}${second}` } });
    expect(access.getCurrentCluster()?.server).toBe('https://second:6443');
    await expect(load({ env: { KUBECONFIG: `${first}${delimiter}${first}` } })).rejects.toThrow(
      `KUBECONFIG: ${first}: Duplicate cluster: test`,
    );
  });

  it('uses the context --context names instead of the current-context', async () => {
    const path = kubeconfig('contexts', {
      clusters:
        "[{ name: test, cluster: { server: 'https://test:6443' } }, { name: other, cluster: { server: 'https://other:6443' } }]",
      contexts:
        '[{ name: test, context: { cluster: test, user: admin } }, { name: other, context: { cluster: other } }]',
    });
    expect((await load({ flag: path, context: 'other' })).getCurrentCluster()?.server).toBe(
      'https://other:6443',
    );
    await expect(load({ flag: path, context: 'missing' })).rejects.toThrow(
      `--context: ${path} has no context "missing"`,
    );
  });

  it('falls back to ~/.kube/config', async () => {
    mkdirSync(join(home, '.kube'), { recursive: true });
    kubeconfig('home/.kube/config', {
      clusters: "[{ name: test, cluster: { server: 'https://home:6443' } }]",
    });
    expect((await load({})).getCurrentCluster()?.server).toBe('https://home:6443');
    await expect(load({ home: join(dir, 'nowhere') })).rejects.toThrow(
      /^--kubeconfig: is required: KUBECONFIG is not set, \S+\/nowhere\/.kube\/config does not exist/,
    );
  });

  it("falls back to the pod's service account, re-reading its token a minute after the kubelet rotates it", async () => {
    const account = join(dir, 'serviceaccount');
    mkdirSync(account);
    writeFileSync(join(account, 'token'), 'first');
    writeFileSync(join(account, 'ca.crt'), 'a CA');
    const sources = { home: join(dir, 'nowhere'), serviceAccount: account };
    await expect(load(sources)).rejects.toThrow(
      '--kubeconfig: not given, and KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT are not both set',
    );
    const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };
    // The system clock (performance.now()) under jest's control; file reads are not timers.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const access = await load({ ...sources, env });
      expect(access.getCurrentCluster()?.server).toBe('https://[fd00::1]:443');
      expect(await authorization(access)).toBe('Bearer first');
      writeFileSync(join(account, 'token'), 'second, rotated');
      expect(await authorization(access)).toBe('Bearer first');
      jest.advanceTimersByTime(tokenFileRereadMs);
      expect(await authorization(access)).toBe('Bearer second, rotated');
    } finally {
      jest.useRealTimers();
    }
  });

  it('runs an exec plugin through client-node, loaded for it', async () => {
    const credential = {
      apiVersion: 'client.authentication.k8s.io/v1',
      kind: 'ExecCredential',
      status: { token: 'from-plugin' },
    };
    const exec = {
      apiVersion: 'client.authentication.k8s.io/v1',
      command: process.execPath,
      args: ['-e', `console.log(${JSON.stringify(JSON.stringify(credential))})`],
      interactiveMode: 'Never',
    };
    const path = kubeconfig('exec', { users: JSON.stringify([{ name: 'admin', user: { exec } }]) });
    const access = await load({ flag: path });
    expect(access.constructor.name).toBe('KubeConfig');
    expect(await authorization(access)).toBe('Bearer from-plugin');
  });

  it.each([
    ['a missing file', () => join(dir, 'missing'), /^--kubeconfig: \S+\/missing does not exist$/],
    ['a directory', () => dir, /^--kubeconfig: \S+ is a directory, not a file$/],
    [
      'a file that is no YAML',
      () => kubeconfig('garbage', { clusters: '[[' }),
      /^--kubeconfig: \S+\/garbage is not a valid kubeconfig: /,
    ],
    [
      'a cluster without a server',
      () => kubeconfig('no-server', { clusters: '[{ name: test, cluster: {} }]' }),
      /^--kubeconfig: \S+\/no-server is not a valid kubeconfig: clusters\[0\]\.cluster\.server is missing$/,
    ],
    [
      'no current context',
      () => kubeconfig('no-context', { 'current-context': "''" }),
      /^--kubeconfig: \S+\/no-context sets no current-context$/,
    ],
    [
      'an undefined current context',
      () => kubeconfig('undefined-context', { 'current-context': 'other' }),
      /^--kubeconfig: \S+ has no context "other" \(its current-context\)$/,
    ],
    [
      'no current cluster',
      () => kubeconfig('no-cluster', { clusters: '[]' }),
      /^--kubeconfig: \S+\/no-cluster has no cluster "test" \(of its current context "test"\)$/,
    ],
    [
      'no current user',
      () => kubeconfig('no-user', { users: '[]' }),
      /^--kubeconfig: \S+ has no user "admin" \(of its current context "test"\)$/,
    ],
    [
      'a server that is no URL',
      () =>
        kubeconfig('bad-server', { clusters: "[{ name: test, cluster: { server: 'https://x:99999' } }]" }),
      /^--kubeconfig: \S+ has no http\(s\) URL as the server of cluster "test": "https:\/\/x:99999"$/,
    ],
    [
      'a missing certificate authority',
      () =>
        kubeconfig('missing-ca', {
          clusters: "[{ name: test, cluster: { server: 'https://x', certificate-authority: ca.crt } }]",
        }),
      /^--kubeconfig: \S+\/missing-ca: \S+\/ca\.crt does not exist$/,
    ],
    [
      'a missing token file',
      () => kubeconfig('missing-token', { users: '[{ name: admin, user: { tokenFile: /nowhere/token } }]' }),
      /^--kubeconfig: \S+\/missing-token: \/nowhere\/token does not exist$/,
    ],
  ])('refuses %s, naming --kubeconfig', async (_, path, message) => {
    await expect(load({ flag: path() })).rejects.toThrow(message);
  });

  it('names KUBECONFIG when the file came from there', async () => {
    const missing = join(dir, 'missing');
    await expect(load({ env: { KUBECONFIG: missing } })).rejects.toThrow(
      `KUBECONFIG: ${missing} does not exist`,
    );
    const noCluster = kubeconfig('env-no-cluster', { clusters: '[]' });
    await expect(load({ env: { KUBECONFIG: noCluster } })).rejects.toThrow(
      `KUBECONFIG: ${noCluster} has no cluster "test"`,
    );
  });
});
