import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { loadKubeConfig } from './kubeconfig.ts';

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

describe('loadKubeConfig', () => {
  it('loads --kubeconfig', () => {
    const path = kubeconfig('good', {});
    expect(loadKubeConfig({ flag: path, env: {}, home }).getCurrentCluster()?.server).toBe(
      'https://127.0.0.1:6443',
    );
  });

  it('merges the files of KUBECONFIG', () => {
    const clusters = kubeconfig('clusters', { users: '[]', contexts: '[]', 'current-context': "''" });
    const rest = kubeconfig('rest', { clusters: '[]' });
    const kubeConfig = loadKubeConfig({
      flag: undefined,
      env: { KUBECONFIG: `${clusters}${delimiter}${rest}` },
      home,
    });
    expect(kubeConfig.getCurrentUser()?.token).toBe('secret');
  });

  it('falls back to ~/.kube/config', () => {
    mkdirSync(join(home, '.kube'), { recursive: true });
    kubeconfig('home/.kube/config', {});
    expect(loadKubeConfig({ flag: undefined, env: {}, home }).currentContext).toBe('test');
    expect(() => loadKubeConfig({ flag: undefined, env: {}, home: join(dir, 'nowhere') })).toThrow(
      /^--kubeconfig: is required: KUBECONFIG is not set, \S+\/nowhere\/.kube\/config does not exist/,
    );
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
  ])('refuses %s, naming --kubeconfig', (_, path, message) => {
    expect(() => loadKubeConfig({ flag: path(), env: {}, home })).toThrow(message);
  });

  it('names KUBECONFIG when the file came from there', () => {
    const missing = join(dir, 'missing');
    expect(() => loadKubeConfig({ flag: undefined, env: { KUBECONFIG: missing }, home })).toThrow(
      `KUBECONFIG: ${missing} does not exist`,
    );
    const noCluster = kubeconfig('env-no-cluster', { clusters: '[]' });
    expect(() => loadKubeConfig({ flag: undefined, env: { KUBECONFIG: noCluster }, home })).toThrow(
      `KUBECONFIG: ${noCluster} has no cluster "test"`,
    );
  });
});
