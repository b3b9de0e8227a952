// The sharder's flags and optional config file (the same keys, in YAML), validated at start-up: a bad value
// stops the program with a message that names the option and says what is expected.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { parseDuration } from '../../runtime/duration.ts';
import { isLogLevel, logLevels, type LoggerOptions } from '../../runtime/logger.ts';

export interface Address {
  host: string;
  port: number;
}

export interface SharderConfig {
  kubeconfig: string | undefined;
  namespace: string;
  identity: string;
  log: Required<Pick<LoggerOptions, 'level' | 'format'>>;
  leaderElection: {
    enabled: boolean;
    leaseName: string;
    leaseDurationSeconds: number;
    renewDeadlineMs: number;
    retryPeriodMs: number;
  };
  webhook: {
    address: Address;
    certFile: string;
    keyFile: string;
    caFile: string;
    reloadPeriodMs: number;
    /** Base URL the API server calls (e.g. https://127.0.0.1:9443), or else the Service in front of the sharder. */
    clientConfig: { url: string } | { service: { namespace: string; name: string; port: number } };
  };
  healthProbeAddress: Address;
  metricsAddress: Address | undefined;
  sync: { periodMs: number; concurrency: number };
}

const options = {
  config: { type: 'string', description: 'YAML file with any of these options (flags win over the file)' },
  kubeconfig: {
    type: 'string',
    description: 'kubeconfig file; default: KUBECONFIG, in-cluster, ~/.kube/config',
  },
  namespace: {
    type: 'string',
    description: "the sharder's namespace (never sharded); default: POD_NAMESPACE",
  },
  identity: {
    type: 'string',
    description: 'this replica: leader-election holder; default: POD_NAME or host name',
  },
  'log-level': { type: 'string', default: 'info', description: logLevels.join('|') },
  'log-format': { type: 'string', default: 'auto', description: 'json|pretty|auto (pretty on a terminal)' },
  'leader-elect': {
    type: 'boolean',
    default: true,
    description: 'run the controllers on one elected replica only',
  },
  'leader-election-lease-name': {
    type: 'string',
    default: 'controller-rings-sharder',
    description: 'Lease name',
  },
  'leader-election-lease-duration': { type: 'string', default: '15s', description: 'leader Lease duration' },
  'leader-election-renew-deadline': {
    type: 'string',
    default: '10s',
    description: 'give up leading after failing to renew this long',
  },
  'leader-election-retry-period': {
    type: 'string',
    default: '2s',
    description: 'between attempts to acquire or renew',
  },
  'webhook-bind-address': {
    type: 'string',
    default: ':9443',
    description: 'HTTPS address of the admission webhook',
  },
  'webhook-cert-file': { type: 'string', description: 'PEM serving certificate of the webhook (required)' },
  'webhook-key-file': { type: 'string', description: 'PEM private key of the webhook (required)' },
  'webhook-ca-file': {
    type: 'string',
    description: "PEM CA that signed the webhook's certificate (required)",
  },
  'webhook-certificate-reload-period': {
    type: 'string',
    default: '30s',
    description: 'how often the certificate files are read for a renewal',
  },
  'webhook-url': { type: 'string', description: 'base URL the API server calls the webhook at' },
  'webhook-service': {
    type: 'string',
    description: 'namespace/name:port of the Service in front of the webhook',
  },
  'health-probe-bind-address': { type: 'string', default: ':8081', description: '/healthz and /readyz' },
  'metrics-bind-address': { type: 'string', default: ':8080', description: '/metrics; 0 disables' },
  'sync-period': { type: 'string', default: '5m', description: 'how often every ring is synced in full' },
  'sync-concurrency': { type: 'string', default: '10', description: 'object patches at once per ring' },
  help: { type: 'boolean', short: 'h', description: 'print this help' },
} as const;

type OptionName = keyof typeof options;
type Values = Partial<Record<OptionName, string | boolean>>;

export function usage(): string {
  const lines = Object.entries(options).map(([name, option]) => {
    const fallback = 'default' in option ? ` (default ${String(option.default)})` : '';
    return `  --${name.padEnd(34)} ${option.description}${fallback}`;
  });
  return `usage: sharder [options]\n${lines.join('\n')}`;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

function fail(option: string, message: string): never {
  throw new ConfigError(`--${option}: ${message}`);
}

function readConfigFile(path: string): Values {
  let content: unknown;
  try {
    content = parse(readFileSync(path, 'utf8'));
  } catch (error) {
    fail('config', `cannot read ${path}: ${(error as Error).message}`);
  }
  if (content === null || content === undefined) return {};
  if (typeof content !== 'object' || Array.isArray(content))
    fail('config', `${path} must hold a mapping of options`);
  const values: Values = {};
  for (const [key, value] of Object.entries(content)) {
    if (!(key in options) || key === 'config' || key === 'help') {
      fail('config', `${path}: unknown option "${key}" (the file takes the flags' names, e.g. sync-period)`);
    }
    const option = options[key as OptionName];
    const expected = option.type === 'boolean' ? 'boolean' : ['string', 'number'];
    if (!(Array.isArray(expected) ? expected.includes(typeof value) : typeof value === expected)) {
      fail('config', `${path}: option "${key}" must be a ${option.type}`);
    }
    values[key as OptionName] = typeof value === 'number' ? String(value) : (value as string | boolean);
  }
  return values;
}

function address(option: OptionName, text: string): Address {
  const match = /^(\[[^\]]*\]|[^:]*):(\d+)$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) fail(option, `"${text}" is not an address: use host:port or :port, e.g. :8080`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, '') || '0.0.0.0', port };
}

function duration(option: OptionName, text: string, minimumMs = 1): number {
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    fail(option, (error as Error).message);
  }
  if (ms < minimumMs) fail(option, `must be at least ${minimumMs} ms`);
  return ms;
}

function positiveInteger(option: OptionName, text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1) fail(option, `"${text}" is not a positive integer`);
  return value;
}

function serviceReference(text: string): { namespace: string; name: string; port: number } {
  const match = /^([a-z0-9-]+)\/([a-z0-9-]+):(\d+)$/.exec(text);
  if (!match)
    fail(
      'webhook-service',
      `"${text}" must be namespace/name:port, e.g. controller-rings-system/sharder:443`,
    );
  return { namespace: match[1] ?? '', name: match[2] ?? '', port: Number(match[3]) };
}

function namespaceFromServiceAccount(): string | undefined {
  try {
    return (
      readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/** Kubernetes components take booleans as --flag=false; parseArgs wants --no-flag. */
function booleanAssignment(arg: string): string {
  const match = /^--([a-z-]+)=(true|false)$/.exec(arg);
  const name = match?.[1];
  if (name === undefined || !(name in options) || options[name as OptionName].type !== 'boolean') return arg;
  return match?.[2] === 'true' ? `--${name}` : `--no-${name}`;
}

/** Parses and validates the command line (and the config file it names); throws ConfigError when invalid. */
export function parseConfig(args: string[], env: NodeJS.ProcessEnv = process.env): SharderConfig | 'help' {
  let flags: Values;
  try {
    // Defaults are applied below, under the config file's values: parse the flags without them.
    const withoutDefaults = Object.fromEntries(
      Object.entries(options).map(([name, { type, ...option }]) => [
        name,
        { type, ...('short' in option ? { short: option.short } : {}) },
      ]),
    );
    flags = parseArgs({
      args: args.map(booleanAssignment),
      options: withoutDefaults,
      strict: true,
      allowPositionals: false,
      allowNegative: true,
    }).values;
  } catch (error) {
    throw new ConfigError(`${(error as Error).message} (see --help)`);
  }
  if (flags.help === true) return 'help';
  const defaults = Object.fromEntries(
    Object.entries(options).flatMap(([name, option]) =>
      'default' in option ? [[name, option.default]] : [],
    ),
  ) as Values;
  const fromFile = typeof flags.config === 'string' ? readConfigFile(flags.config) : {};
  const values: Values = { ...defaults, ...fromFile, ...flags };
  const text = (name: OptionName): string | undefined => {
    const value = values[name];
    return typeof value === 'string' && value !== '' ? value : undefined;
  };
  const required = (name: OptionName): string => text(name) ?? fail(name, 'is required');

  const level = text('log-level') ?? 'info';
  if (!isLogLevel(level)) fail('log-level', `"${level}" is not one of ${logLevels.join(', ')}`);
  const format = text('log-format') ?? 'auto';
  if (format !== 'json' && format !== 'pretty' && format !== 'auto')
    fail('log-format', `"${format}" is not json, pretty or auto`);

  const namespace = text('namespace') ?? env.POD_NAMESPACE ?? namespaceFromServiceAccount();
  if (namespace === undefined) fail('namespace', 'is required outside a cluster (or set POD_NAMESPACE)');

  const url = text('webhook-url');
  const service = text('webhook-service');
  if ((url === undefined) === (service === undefined)) {
    fail(
      'webhook-url',
      'give exactly one of --webhook-url and --webhook-service, so the API server can reach the webhook',
    );
  }
  if (url !== undefined && !url.startsWith('https://'))
    fail('webhook-url', `"${url}" must be an https:// URL`);

  const leaseDurationMs = duration(
    'leader-election-lease-duration',
    required('leader-election-lease-duration'),
    1000,
  );
  const renewDeadlineMs = duration(
    'leader-election-renew-deadline',
    required('leader-election-renew-deadline'),
  );
  const retryPeriodMs = duration('leader-election-retry-period', required('leader-election-retry-period'));
  if (renewDeadlineMs >= leaseDurationMs)
    fail('leader-election-renew-deadline', 'must be shorter than the lease duration');
  if (retryPeriodMs >= renewDeadlineMs)
    fail('leader-election-retry-period', 'must be shorter than the renew deadline');

  const metrics = required('metrics-bind-address');
  return {
    kubeconfig: text('kubeconfig'),
    namespace,
    identity: text('identity') ?? env.POD_NAME ?? hostname(),
    log: { level, format },
    leaderElection: {
      enabled: values['leader-elect'] !== false,
      leaseName: required('leader-election-lease-name'),
      leaseDurationSeconds: Math.ceil(leaseDurationMs / 1000),
      renewDeadlineMs,
      retryPeriodMs,
    },
    webhook: {
      address: address('webhook-bind-address', required('webhook-bind-address')),
      certFile: required('webhook-cert-file'),
      keyFile: required('webhook-key-file'),
      caFile: required('webhook-ca-file'),
      reloadPeriodMs: duration(
        'webhook-certificate-reload-period',
        required('webhook-certificate-reload-period'),
        100,
      ),
      clientConfig:
        url !== undefined ? { url: url.replace(/\/$/, '') } : { service: serviceReference(service ?? '') },
    },
    healthProbeAddress: address('health-probe-bind-address', required('health-probe-bind-address')),
    metricsAddress: metrics === '0' ? undefined : address('metrics-bind-address', metrics),
    sync: {
      periodMs: duration('sync-period', required('sync-period'), 1000),
      concurrency: positiveInteger('sync-concurrency', required('sync-concurrency')),
    },
  };
}
