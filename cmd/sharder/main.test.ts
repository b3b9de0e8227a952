// The sharder program refuses bad configuration at start-up: it exits with code 2 and one line on stderr that
// names the option, before it logs anything or talks to a cluster. Runs the real program, no cluster needed.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { createSigningKeyPair } from '../../runtime/certificates.ts';
import { webhookCertificates } from '../../test/support/sharder.ts';

const main = fileURLToPath(new URL('main.ts', import.meta.url));

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the sharder; a sharder that does not exit on its own within 20 s is killed (code null). */
async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Outcome> {
  const child = spawn(process.execPath, [main, ...args], {
    env: { PATH: process.env.PATH, HOME: dir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (output.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output.stderr += chunk.toString()));
  const timeout = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const [code] = (await once(child, 'close')) as [number | null];
  clearTimeout(timeout);
  return { code, ...output };
}

let dir: string;
let files: { cert: string; key: string; ca: string; otherKey: string; kubeconfig: string };

function flags(overrides: Record<string, string | undefined> = {}): string[] {
  const values: Record<string, string | undefined> = {
    kubeconfig: files.kubeconfig,
    namespace: 'sharder-system',
    'webhook-url': 'https://127.0.0.1:9443',
    'webhook-cert-file': files.cert,
    'webhook-key-file': files.key,
    'webhook-ca-file': files.ca,
    ...overrides,
  };
  return Object.entries(values).flatMap(([name, value]) =>
    value === undefined ? [] : [`--${name}=${value}`],
  );
}

function kubeconfig(server: string, cluster = 'test'): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: ${cluster}`,
    `  cluster: { server: '${server}' }`,
    'users: [{ name: admin, user: { token: test } }]',
    'contexts: [{ name: test, context: { cluster: test, user: admin } }]',
    'current-context: test',
    '',
  ].join('\n');
}

beforeAll(async () => {
  const certificates = await webhookCertificates();
  dir = certificates.dir;
  files = {
    cert: certificates.certFile,
    key: certificates.keyFile,
    ca: certificates.caFile,
    otherKey: join(dir, 'other.key'),
    kubeconfig: join(dir, 'kubeconfig'),
  };
  await Promise.all([
    // A key of the same algorithm and encoding as the serving certificate's, but not its.
    writeFile(files.otherKey, (await createSigningKeyPair()).privateKey),
    writeFile(files.kubeconfig, kubeconfig('https://127.0.0.1:1')),
    writeFile(join(dir, 'not-pem'), 'not a certificate\n'),
    writeFile(join(dir, 'no-cluster'), kubeconfig('https://127.0.0.1:1', 'elsewhere')),
    mkdir(join(dir, 'a-directory')),
  ]);
});

describe('the sharder program refuses at start-up', () => {
  it.each([
    ['a duration above the longest timer', { 'sync-period': '600h' }, /^sharder: --sync-period: .*24h/],
    [
      'a renew deadline not under the lease duration',
      { 'leader-election-lease-duration': '10s', 'leader-election-renew-deadline': '10s' },
      /^sharder: --leader-election-renew-deadline: .*shorter than --leader-election-lease-duration/,
    ],
    [
      'a concurrency out of bounds',
      { 'sync-concurrency': '100000000' },
      /^sharder: --sync-concurrency: .*200/,
    ],
    ['an integer in exponent notation', { 'sync-concurrency': '1e1' }, /^sharder: --sync-concurrency: "1e1"/],
    ['an integer in hex', { 'sync-concurrency': '0x10' }, /^sharder: --sync-concurrency: "0x10"/],
    [
      'a Service port above 65535',
      { 'webhook-url': undefined, 'webhook-service': 'system/sharder:99999' },
      /^sharder: --webhook-service: .*65535/,
    ],
    [
      'a bind port above 65535',
      { 'metrics-bind-address': ':99999' },
      /^sharder: --metrics-bind-address: .*65535/,
    ],
  ])('%s', async (_, overrides, message) => {
    const { code, stderr } = await run(flags(overrides));
    expect({ code, stderr }).toEqual({ code: 2, stderr: expect.stringMatching(message) });
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it.each([
    [
      'a missing certificate file',
      { 'webhook-cert-file': 'missing.crt' },
      /^sharder: --webhook-cert-file: .*missing\.crt/,
    ],
    [
      'a certificate file that is not PEM',
      { 'webhook-cert-file': 'not-pem' },
      /^sharder: --webhook-cert-file: .*not-pem/,
    ],
    [
      'a key that is not the certificate’s',
      { 'webhook-key-file': 'other.key' },
      /^sharder: --webhook-key-file: .*other\.key/,
    ],
    ['a CA file that is not PEM', { 'webhook-ca-file': 'not-pem' }, /^sharder: --webhook-ca-file: .*not-pem/],
    ['a missing kubeconfig', { kubeconfig: 'missing' }, /^sharder: --kubeconfig: .*missing/],
    [
      'a kubeconfig that is a directory',
      { kubeconfig: 'a-directory' },
      /^sharder: --kubeconfig: .*a-directory/,
    ],
    [
      'a kubeconfig without its current cluster',
      { kubeconfig: 'no-cluster' },
      /^sharder: --kubeconfig: .*no-cluster/,
    ],
  ])('%s, naming the option and the file', async (_, overrides, message) => {
    const paths = Object.fromEntries(
      Object.entries(overrides).map(([name, file]) => [name, join(dir, file)]),
    );
    const { code, stderr } = await run(flags(paths));
    expect({ code, stderr }).toEqual({ code: 2, stderr: expect.stringMatching(message) });
    expect(stderr.trim().split('\n')).toHaveLength(1);
  });

  it('a KUBECONFIG from the environment that is missing, naming KUBECONFIG', async () => {
    const { code, stderr } = await run(flags({ kubeconfig: undefined }), {
      KUBECONFIG: join(dir, 'missing'),
    });
    expect({ code, stderr }).toEqual({
      code: 2,
      stderr: expect.stringMatching(/^sharder: KUBECONFIG: .*missing/),
    });
  });
});

describe('--help', () => {
  it('lists the allowed ranges', async () => {
    const { code, stdout } = await run(['--help']);
    expect(code).toBe(0);
    expect(stdout).toMatch(/--sync-period .*1s to 24h/);
    expect(stdout).toMatch(/--sync-concurrency .*1 to 200/);
    expect(stdout).toMatch(/--webhook-service .*port 1 to 65535/);
  });
});
