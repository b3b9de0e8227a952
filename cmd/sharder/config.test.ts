import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { parseConfig, type SharderConfig } from './config.ts';

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
      sync: { periodMs: 300_000, concurrency: 10 },
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
    [['--sync-concurrency=0'], /--sync-concurrency: "0" is not a positive integer/],
    [['--health-probe-bind-address=8081'], /--health-probe-bind-address: "8081" is not an address/],
    [['--webhook-url=http://x'], /--webhook-url: "http:\/\/x" must be an https:\/\/ URL/],
    [['--webhook-service=sharder'], /give exactly one of --webhook-url and --webhook-service/],
    [['--leader-election-renew-deadline=20s'], /renew-deadline: must be shorter than the lease duration/],
  ])('rejects %p with a message naming the option', (extra, message) => {
    expect(() => parseConfig([...required, ...extra], {})).toThrow(message);
  });

  it('names missing required options', () => {
    expect(() =>
      parseConfig(
        required.filter((a) => !a.startsWith('--webhook-cert-file')),
        {},
      ),
    ).toThrow('--webhook-cert-file: is required');
    expect(() =>
      parseConfig(
        required.filter((a) => !a.startsWith('--namespace')),
        {},
      ),
    ).toThrow('--namespace: is required outside a cluster');
  });

  it('rejects unknown and mistyped keys in the config file', () => {
    expect(() => parseConfig([...required, `--config=${configFile('syncPeriod: 1m\n')}`], {})).toThrow(
      /unknown option "syncPeriod"/,
    );
    expect(() => parseConfig([...required, `--config=${configFile('leader-elect: "no"\n')}`], {})).toThrow(
      /option "leader-elect" must be a boolean/,
    );
    expect(() => parseConfig([...required, '--config=/nonexistent.yaml'], {})).toThrow(
      /--config: cannot read/,
    );
  });

  it('takes booleans as --flag=false, --no-flag and --flag', () => {
    expect(parse([...required, '--leader-elect=false']).leaderElection.enabled).toBe(false);
    expect(parse([...required, '--no-leader-elect']).leaderElection.enabled).toBe(false);
    expect(parse([...required, '--leader-elect']).leaderElection.enabled).toBe(true);
  });

  it('answers --help', () => {
    expect(parseConfig(['--help'], {})).toBe('help');
  });
});
