import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseConfig, usage, type SharderConfig } from './config.ts';

const required = [
  '--namespace=sharding-system',
  '--identity=sharder-0',
  '--webhook-cert-file=tls.crt',
  '--webhook-key-file=tls.key',
  '--webhook-ca-file=ca.crt',
  '--webhook-url=https://127.0.0.1:9443/',
];

function parse(args: string[], env: NodeJS.ProcessEnv = {}): SharderConfig {
  const config = parseConfig(args, env);
  if (config === 'help') throw new Error('unexpected help');
  return config;
}

function configFile(content: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sharder-config-')), 'config.yaml');
  writeFileSync(path, content);
  return path;
}

describe('sharder config', () => {
  it('has defaults like a kubebuilder operator', () => {
    const config = parse(required);
    expect(config).toMatchObject({
      namespace: 'sharding-system',
      identity: 'sharder-0',
      log: { level: 'info', format: 'auto' },
      leaderElection: { enabled: true, leaseName: 'controller-rings-sharder', leaseDurationSeconds: 15 },
      webhook: { address: { host: '0.0.0.0', port: 9443 }, clientConfig: { url: 'https://127.0.0.1:9443' } },
      healthProbeAddress: { host: '0.0.0.0', port: 8081 },
      metricsAddress: { host: '0.0.0.0', port: 8080 },
      sync: { periodMs: 300_000, concurrency: 100 },
    });
  });

  it('takes the namespace and identity from the pod environment', () => {
    const args = required.filter((arg) => !/^--(namespace|identity)=/.test(arg));
    expect(parse(args, { POD_NAMESPACE: 'ns', POD_NAME: 'pod-1' })).toMatchObject({
      namespace: 'ns',
      identity: 'pod-1',
    });
  });

  it('reads a config file, and flags win over it', () => {
    const path = configFile('sync-period: 1m\nsync-concurrency: 4\nleader-elect: false\nlog-level: debug\n');
    expect(parse([...required, `--config=${path}`, '--log-level=warn'])).toMatchObject({
      sync: { periodMs: 60_000, concurrency: 4 },
      leaderElection: { enabled: false },
      log: { level: 'warn' },
    });
  });

  it('parses a webhook Service and disables metrics with 0', () => {
    const args = [
      ...required.filter((a) => !a.startsWith('--webhook-url')),
      '--webhook-service=system/sharder:443',
    ];
    expect(parse([...args, '--metrics-bind-address=0'])).toMatchObject({
      webhook: { clientConfig: { service: { namespace: 'system', name: 'sharder', port: 443 } } },
      metricsAddress: undefined,
    });
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'/],
    [['--log-level=loud'], /--log-level: "loud" is not one of trace, debug/],
    [['--sync-period=5'], /--sync-period: invalid duration "5": use a number with a unit/],
    [['--health-probe-bind-address=8081'], /--health-probe-bind-address: "8081" is not an address/],
    [['--webhook-url=http://x'], /--webhook-url: "http:\/\/x" must be an https:\/\/ URL/],
    [['--webhook-service=sharder'], /give exactly one of --webhook-url and --webhook-service/],
  ])('rejects %p with a message naming the option', (extra, message) => {
    expect(() => parseConfig([...required, ...extra], {})).toThrow(message);
  });

  // Node runs a timer of more than 2^31-1 ms after 1 ms: 600h would sync all the time.
  it.each([
    ['sync-period', '600h', '1s to 24h'],
    ['sync-period', '24h1ms', '1s to 24h'],
    ['sync-period', '999s', undefined],
    ['sync-period', '0s', '1s to 24h'],
    ['webhook-certificate-reload-period', '0ms', '100ms to 24h'],
    ['webhook-certificate-reload-period', '25h', '100ms to 24h'],
    ['leader-election-lease-duration', '0s', '1s to 24h'],
    ['leader-election-lease-duration', '600h', '1s to 24h'],
    ['leader-election-renew-deadline', '50ms', '100ms to 24h'],
    ['leader-election-retry-period', '0s', '100ms to 24h'],
  ])('bounds --%s: %s', (option, value, range) => {
    const parse = (): unknown => parseConfig([...required, `--${option}=${value}`], {});
    if (range === undefined) expect(parse).not.toThrow();
    else expect(parse).toThrow(`--${option}: "${value}" is out of range: use ${range}`);
  });

  it('takes durations as whole milliseconds', () => {
    expect(parse([...required, '--sync-period=1.0004s']).sync.periodMs).toBe(1000);
  });

  it('relates the leader-election durations as client-go does', () => {
    const election = (lease: string, renew: string, retry: string): unknown =>
      parseConfig(
        [
          ...required,
          `--leader-election-lease-duration=${lease}`,
          `--leader-election-renew-deadline=${renew}`,
          `--leader-election-retry-period=${retry}`,
        ],
        {},
      );
    expect(election('4s', '3s', '500ms')).toMatchObject({
      leaderElection: { leaseDurationSeconds: 4, renewDeadlineMs: 3000, retryPeriodMs: 500 },
    });
    expect(() => election('1500ms', '1s', '500ms')).toThrow(
      '--leader-election-lease-duration: "1500ms" is not whole seconds',
    );
    expect(() => election('15s', '15s', '2s')).toThrow(
      '--leader-election-renew-deadline: "15s" must be shorter than --leader-election-lease-duration (15s)',
    );
    // Retries are jittered by up to 20 %: 2.5 s may become 3 s, the whole renew deadline.
    expect(() => election('15s', '3s', '2.5s')).toThrow(
      '--leader-election-retry-period: "2.5s" times 1.2 (its jitter) must be shorter than ' +
        '--leader-election-renew-deadline (3s)',
    );
    expect(() => election('15s', '3s', '2490ms')).not.toThrow();
  });

  it.each(['0', '201', '100000000', '1e1', '0x10', '1.0', '+5', ' 5', '-1'])(
    'takes --sync-concurrency=%p only as decimal digits from 1 to 200',
    (value) => {
      expect(() => parseConfig([...required, `--sync-concurrency=${value}`], {})).toThrow(
        `--sync-concurrency: "${value}" is not an integer from 1 to 200 (decimal digits only)`,
      );
    },
  );

  it.each([
    ['webhook-bind-address', ':99999'],
    ['webhook-bind-address', ':0'],
    ['webhook-bind-address', '[nonsense]:9443'],
    ['health-probe-bind-address', '127.0.0.1:65536'],
    ['metrics-bind-address', ':1e3'],
  ])('rejects --%s=%s, with the allowed ports', (option, value) => {
    expect(() => parseConfig([...required, `--${option}=${value}`], {})).toThrow(
      `--${option}: "${value}" is not an address: use host:port or :port, port 1 to 65535`,
    );
  });

  it('takes IPv6 and host names in addresses', () => {
    expect(
      parse([...required, '--webhook-bind-address=[::1]:65535', '--health-probe-bind-address=localhost:1']),
    ).toMatchObject({
      webhook: { address: { host: '::1', port: 65535 } },
      healthProbeAddress: { host: 'localhost', port: 1 },
    });
  });

  it.each(['system/sharder:99999', 'system/sharder:0', 'System/sharder:443', 'system/-sharder:443'])(
    'rejects --webhook-service=%s, with the form and the allowed ports',
    (value) => {
      const args = [...required.filter((a) => !a.startsWith('--webhook-url')), `--webhook-service=${value}`];
      expect(() => parseConfig(args, {})).toThrow(
        `--webhook-service: "${value}" must be namespace/name:port, port 1 to 65535`,
      );
    },
  );

  it.each([
    'https://127.0.0.1:99999',
    'https://127.0.0.1:0',
    'https://user@sharder:9443',
    'https://sharder:9443/?q',
    'https://sharder/#top',
    'https://',
  ])('rejects --webhook-url=%s as the API server would', (value) => {
    expect(() => parseConfig([...required, `--webhook-url=${value}`], {})).toThrow(
      `--webhook-url: "${value}" must be an https:// URL without user, query or fragment, port 1 to 65535`,
    );
  });

  it('names missing required options', () => {
    expect(() =>
      parseConfig(
        required.filter((a) => !a.startsWith('--webhook-cert-file')),
        {},
      ),
    ).toThrow('--webhook-cert-file: is required with --webhook-key-file');
    expect(() =>
      parseConfig(
        required.filter((a) => !a.startsWith('--namespace')),
        {},
      ),
    ).toThrow('--namespace: is required outside a cluster');
  });

  it('reads the certificate files when they are named', () => {
    expect(parse(required).webhook.certificates).toEqual({
      files: { certFile: 'tls.crt', keyFile: 'tls.key', caFile: 'ca.crt' },
    });
  });

  describe('without certificate files', () => {
    const managed = required.filter((arg) => !/^--webhook-(cert|key|ca)-file=/.test(arg));

    it('manages the certificates in a Secret: a CA for a year, serving certificates for 90 days', () => {
      expect(parse(managed).webhook).toMatchObject({
        certificates: {
          secret: {
            name: 'controller-rings-sharder-webhook-certificates',
            caValidityMs: 365 * 24 * 3_600_000,
            certificateValidityMs: 90 * 24 * 3_600_000,
          },
        },
        reloadPeriodMs: 30_000,
      });
      expect(
        parse([
          ...managed,
          '--webhook-certificate-secret=webhook-tls',
          '--webhook-ca-validity=3m',
          '--webhook-certificate-validity=1m',
          '--webhook-certificate-reload-period=1s',
        ]).webhook.certificates,
      ).toEqual({ secret: { name: 'webhook-tls', caValidityMs: 180_000, certificateValidityMs: 60_000 } });
    });

    it('refuses a Secret together with files, and a name that is no Secret name', () => {
      expect(() => parseConfig([...required, '--webhook-certificate-secret=webhook-tls'], {})).toThrow(
        '--webhook-certificate-secret: give either it or the certificate files (--webhook-cert-file), not both',
      );
      expect(() => parseConfig([...managed, '--webhook-certificate-secret=Webhook_TLS'], {})).toThrow(
        '--webhook-certificate-secret: "Webhook_TLS" is not a Secret name (a DNS subdomain)',
      );
    });

    it('refuses validities the rotation cannot keep: a certificate outliving its CA, or renewed in less time than a new leader takes', () => {
      expect(() =>
        parseConfig([...managed, '--webhook-ca-validity=24h', '--webhook-certificate-validity=25h'], {}),
      ).toThrow('--webhook-certificate-validity: "25h" exceeds --webhook-ca-validity (24h)');
      // A third of 225 s: the 15 s Lease and two 30 s reload periods.
      expect(() => parseConfig([...managed, '--webhook-certificate-validity=3m44s'], {})).toThrow(
        '--webhook-certificate-validity: "3m44s" is shorter than 225s: a certificate is renewed with a third of ' +
          'its validity left, which must outlast --leader-election-lease-duration (15s: only the leader renews, ' +
          'and a successor waits that long) plus two --webhook-certificate-reload-period (30s)',
      );
      expect(parse([...managed, '--webhook-certificate-validity=3m45s']).webhook.certificates).toEqual(
        expect.objectContaining({ secret: expect.objectContaining({ certificateValidityMs: 225_000 }) }),
      );
      // A single replica renews without a successor to wait for.
      expect(() =>
        parseConfig([...managed, '--leader-elect=false', '--webhook-certificate-validity=2m59s'], {}),
      ).toThrow(
        '--webhook-certificate-validity: "2m59s" is shorter than 180s: a certificate is renewed with a third of ' +
          'its validity left, which must outlast two --webhook-certificate-reload-period (30s)',
      );
      expect(() => parseConfig([...managed, '--webhook-ca-validity=87601h'], {})).toThrow(
        '--webhook-ca-validity: "87601h" is out of range: use 1s to 87600h',
      );
    });
  });

  it('rejects unknown and mistyped keys in the config file', () => {
    expect(() => parseConfig([...required, `--config=${configFile('syncPeriod: 1m\n')}`], {})).toThrow(
      /unknown option "syncPeriod"/,
    );
    expect(() => parseConfig([...required, `--config=${configFile('leader-elect: "no"\n')}`], {})).toThrow(
      /option "leader-elect" must be a boolean/,
    );
    expect(() => parseConfig([...required, '--config=/nonexistent.yaml'], {})).toThrow(
      '--config: /nonexistent.yaml does not exist',
    );
  });

  it('reads the config file as text, as the flags, so YAML numbers are no integers', () => {
    for (const value of ['1e3', '0x10', '0o10', '.inf']) {
      expect(() =>
        parseConfig([...required, `--config=${configFile(`sync-concurrency: ${value}\n`)}`], {}),
      ).toThrow(`--sync-concurrency: "${value}" is not an integer from 1 to 200`);
    }
    expect(() => parseConfig([...required, `--config=${configFile('sync-period: 600h\n')}`], {})).toThrow(
      '--sync-period: "600h" is out of range',
    );
    expect(() => parseConfig([...required, `--config=${configFile('sync-period: [1m]\n')}`], {})).toThrow(
      'option "sync-period" must be a string',
    );
  });

  it('takes booleans as --flag=false, --no-flag and --flag', () => {
    expect(parse([...required, '--leader-elect=false']).leaderElection.enabled).toBe(false);
    expect(parse([...required, '--no-leader-elect']).leaderElection.enabled).toBe(false);
    expect(parse([...required, '--leader-elect']).leaderElection.enabled).toBe(true);
  });

  it('answers --help, with the allowed ranges', () => {
    expect(parseConfig(['--help'], {})).toBe('help');
    expect(usage()).toMatch(
      /--sync-period +how often every ring is synced in full; 1s to 24h \(default 5m\)/,
    );
    expect(usage()).toMatch(/--sync-concurrency +object patches at once per ring; 1 to 200 \(default 100\)/);
    expect(usage()).toMatch(/--leader-election-retry-period +.*; 100ms to 24h \(default 2s\)/);
  });
});
