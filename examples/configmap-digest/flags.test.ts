import { describe, expect, it } from '@jest/globals';
import { parseFlags } from './flags.ts';

const env = { POD_NAME: 'pod-a', POD_NAMESPACE: 'shards' };

describe('parseFlags', () => {
  it('defaults to 4 workers, no request rate limit, the pod as the shard', () => {
    expect(parseFlags([], env)).toEqual({
      ring: 'configmap-digest',
      name: 'pod-a',
      namespace: 'shards',
      kubeconfig: undefined,
      leaseDurationSeconds: 15,
      leaseLabels: {},
      workers: 4,
      serviceAccounts: false,
      clientRateLimit: undefined,
      metricsPort: undefined,
      recordFile: undefined,
      logLevel: 'info',
      logFormat: 'auto',
    });
  });

  it('takes workers and the request rate limit, the burst defaulting to the rate rounded up', () => {
    const flags = parseFlags(['--workers=2', '--kube-api-qps=20', '--kube-api-burst=30'], env);
    expect(flags).toMatchObject({ workers: 2, clientRateLimit: { qps: 20, burst: 30 } });
    expect(parseFlags(['--kube-api-qps=2.5'], env).clientRateLimit).toEqual({ qps: 2.5, burst: 3 });
    expect(parseFlags(['--kube-api-qps=0.5'], env).clientRateLimit).toEqual({ qps: 0.5, burst: 1 });
  });

  it('keeps digest ServiceAccounts with --digest-service-accounts', () => {
    expect(parseFlags(['--digest-service-accounts'], env).serviceAccounts).toBe(true);
  });

  it('takes the Lease labels, each KEY=VALUE', () => {
    const flags = parseFlags(['--lease-label=app.kubernetes.io/version=v2', '--lease-label=track='], env);
    expect(flags.leaseLabels).toEqual({ 'app.kubernetes.io/version': 'v2', track: '' });
  });

  it.each([
    [['--workers=0'], '--workers: "0" is not a positive integer'],
    [['--lease-label=version'], '--lease-label: "version" is not KEY=VALUE'],
    [['--lease-label==v2'], '--lease-label: "=v2" is not KEY=VALUE'],
    [['--workers=1.5'], '--workers: "1.5" is not a positive integer'],
    [['--kube-api-qps=0'], '--kube-api-qps: "0" is not a positive number'],
    [['--kube-api-qps=-1'], '--kube-api-qps: "-1" is not a positive number'],
    [['--kube-api-qps=fast'], '--kube-api-qps: "fast" is not a positive number'],
    [['--kube-api-qps=5', '--kube-api-burst=0'], '--kube-api-burst: "0" is not a positive integer'],
    [['--kube-api-burst=5'], '--kube-api-burst: only with --kube-api-qps'],
    [['--lease-duration=0'], '--lease-duration: "0" is not a positive integer'],
    [['--metrics-port=http'], '--metrics-port: "http" is not a positive integer'],
    [['--log-level=loud'], '--log-level: "loud" is not a log level'],
    [['--log-format=xml'], '--log-format: "xml" is not json, pretty or auto'],
    [['--qps=5'], "Unknown option '--qps'"],
  ])('refuses %p', (args, message) => {
    expect(() => parseFlags(args, env)).toThrow(message);
  });
});
