// The example's flags, parsed and checked apart from the program so that their rules are tested.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { isLogLevel, type ClientRateLimit, type LoggerOptions } from 'controller-rings/shard';

export const usage = `usage: configmap-digest [--ring configmap-digest] [--name NAME] [--namespace NAMESPACE] [--kubeconfig FILE]
  [--lease-duration SECONDS] [--lease-label KEY=VALUE]... [--workers 4] [--digest-service-accounts] [--kube-api-qps QPS [--kube-api-burst N]] [--metrics-port PORT]
  [--record-file FILE] [--log-level info] [--log-format auto]`;

export interface Flags {
  ring: string;
  name: string;
  namespace: string;
  kubeconfig: string | undefined;
  leaseDurationSeconds: number;
  /** Labels of the shard Lease (--lease-label, repeatable), e.g. the version a ring's canary selects. */
  leaseLabels: Record<string, string>;
  /** ConfigMaps reconciled at once. */
  workers: number;
  /** Also keep a ServiceAccount per digest Secret, controlled by it: a chain of controllers. */
  serviceAccounts: boolean;
  /** The reconciles' request rate limit; none without --kube-api-qps. */
  clientRateLimit: ClientRateLimit | undefined;
  metricsPort: number | undefined;
  recordFile: string | undefined;
  logLevel: NonNullable<LoggerOptions['level']>;
  logFormat: 'json' | 'pretty' | 'auto';
}

/** Thrown for flags that are not what the usage says; its message names the flag. */
export class FlagError extends Error {}

function positiveInteger(flag: string, value: string): number {
  const number = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(number) || number < 1)
    throw new FlagError(`--${flag}: "${value}" is not a positive integer`);
  return number;
}

function positiveNumber(flag: string, value: string): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(number > 0))
    throw new FlagError(`--${flag}: "${value}" is not a positive number`);
  return number;
}

function leaseLabel(flag: string): [string, string] {
  const at = flag.indexOf('=');
  if (at < 1) throw new FlagError(`--lease-label: "${flag}" is not KEY=VALUE`);
  return [flag.slice(0, at), flag.slice(at + 1)];
}

export function parseFlags(args: string[], env: NodeJS.ProcessEnv = process.env): Flags {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        ring: { type: 'string', default: 'configmap-digest' },
        name: { type: 'string', default: env.POD_NAME ?? hostname() },
        namespace: { type: 'string', default: env.POD_NAMESPACE ?? 'default' },
        kubeconfig: { type: 'string' },
        'lease-duration': { type: 'string', default: '15' },
        'lease-label': { type: 'string', multiple: true, default: [] },
        workers: { type: 'string', default: '4' },
        'digest-service-accounts': { type: 'boolean', default: false },
        'kube-api-qps': { type: 'string' },
        'kube-api-burst': { type: 'string' },
        'metrics-port': { type: 'string' },
        'record-file': { type: 'string' },
        'log-level': { type: 'string', default: 'info' },
        'log-format': { type: 'string', default: 'auto' },
      },
      strict: true,
    }));
  } catch (error) {
    throw new FlagError((error as Error).message);
  }
  const level = values['log-level'];
  if (!isLogLevel(level)) throw new FlagError(`--log-level: "${level}" is not a log level`);
  const format = values['log-format'];
  if (format !== 'json' && format !== 'pretty' && format !== 'auto')
    throw new FlagError(`--log-format: "${format}" is not json, pretty or auto`);
  const qps = values['kube-api-qps'];
  const burst = values['kube-api-burst'];
  if (qps === undefined && burst !== undefined)
    throw new FlagError('--kube-api-burst: only with --kube-api-qps (without it requests are not limited)');
  let clientRateLimit: ClientRateLimit | undefined;
  if (qps !== undefined) {
    const rate = positiveNumber('kube-api-qps', qps);
    // client-go's kube components default the burst to above the rate; here at least 1 request, else the rate.
    clientRateLimit = {
      qps: rate,
      burst: burst === undefined ? Math.max(1, Math.ceil(rate)) : positiveInteger('kube-api-burst', burst),
    };
  }
  const port = values['metrics-port'];
  return {
    ring: values.ring,
    name: values.name,
    namespace: values.namespace,
    kubeconfig: values.kubeconfig,
    leaseDurationSeconds: positiveInteger('lease-duration', values['lease-duration']),
    leaseLabels: Object.fromEntries(values['lease-label'].map(leaseLabel)),
    workers: positiveInteger('workers', values.workers),
    serviceAccounts: values['digest-service-accounts'],
    clientRateLimit,
    metricsPort: port === undefined ? undefined : positiveInteger('metrics-port', port),
    recordFile: values['record-file'],
    logLevel: level,
    logFormat: format,
  };
}
