// The sharder's flags and optional config file (the same keys, in YAML), validated at start-up: a bad value
// stops the program with a message that names the option and says what is expected.
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { ConfigError, unreadable } from '../../runtime/config-error.ts';
import { parseDuration } from '../../runtime/duration.ts';
import { isLogLevel, logLevels, type LoggerOptions } from '../../runtime/logger.ts';
import { yaml } from '../../runtime/yaml.ts';

// The sharder's modules take the configuration's error from its flags' module.
export { ConfigError, unreadable };

export interface Address {
  host: string;
  port: number;
}

export interface WebhookCertificateFiles {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export interface ManagedCertificateOptions {
  /** The Secret in the sharder's namespace that holds the CA bundle, the CAs' keys and the serving certificate. */
  name: string;
  caValidityMs: number;
  certificateValidityMs: number;
}

/** Where the sharder keeps its webhook certificates when no files are named. */
export const defaultCertificateSecret = 'controller-rings-sharder-webhook-certificates';

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
    /** Files someone else renews (cert-manager, your own tooling), or a Secret the sharder manages. */
    certificates: { files: WebhookCertificateFiles } | { secret: ManagedCertificateOptions };
    /** How often the files are read, or the sharder-managed Secret checked for a rotation. */
    reloadPeriodMs: number;
    /** Base URL the API server calls (e.g. https://127.0.0.1:9443), or else the Service in front of the sharder. */
    clientConfig: { url: string } | { service: { namespace: string; name: string; port: number } };
  };
  healthProbeAddress: Address;
  metricsAddress: Address | undefined;
  sync: { periodMs: number; concurrency: number };
}

/** Node fires a timer of more than 2^31-1 ms (24.8 days) after 1 ms instead; no duration here needs a day. */
const longest = '24h';
const maxPort = 65535;
/** Validities are compared with the clock, never set as timers: ten years. */
const longestValidity = '87600h';
/** The leader elector waits up to 1.2 retry periods between attempts (runtime/leader-election.ts), as client-go. */
const retryJitter = 1.2;

const options = {
  config: { type: 'string', description: 'YAML file with any of these options (flags win over the file)' },
  kubeconfig: {
    type: 'string',
    description: 'kubeconfig file; default: KUBECONFIG, ~/.kube/config, in-cluster',
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
  'leader-election-lease-duration': {
    type: 'string',
    default: '15s',
    description: 'leader Lease duration, whole seconds',
    duration: { min: '1s', max: longest },
  },
  'leader-election-renew-deadline': {
    type: 'string',
    default: '10s',
    description: 'give up leading after failing to renew this long; shorter than the lease duration',
    duration: { min: '100ms', max: longest },
  },
  'leader-election-retry-period': {
    type: 'string',
    default: '2s',
    description: `between attempts to acquire or renew; the renew deadline must exceed ${retryJitter} times it`,
    duration: { min: '100ms', max: longest },
  },
  'webhook-bind-address': {
    type: 'string',
    default: ':9443',
    description: `HTTPS address of the admission webhook, host:port or :port, port 1 to ${maxPort}`,
  },
  'webhook-certificate-secret': {
    type: 'string',
    description:
      "Secret in the sharder's namespace where the sharder keeps the webhook's CA and certificate, which it " +
      `creates and rotates; the default without --webhook-cert-file (default ${defaultCertificateSecret})`,
  },
  'webhook-ca-validity': {
    type: 'string',
    default: '8760h',
    description: 'validity of a CA the sharder creates; the next CA is added with a third of it left',
    duration: { min: '1s', max: longestValidity },
  },
  'webhook-certificate-validity': {
    type: 'string',
    default: '2160h',
    description:
      'validity of a serving certificate the sharder issues, renewed with a third of it left; at most the ' +
      'CA validity, at least 3 times the lease duration plus 6 reload periods',
    duration: { min: '1s', max: longestValidity },
  },
  'webhook-cert-file': {
    type: 'string',
    description:
      'PEM serving certificate of the webhook, renewed by someone else (with the key and CA files)',
  },
  'webhook-key-file': {
    type: 'string',
    description: "PEM private key of the webhook's certificate (with --webhook-cert-file)",
  },
  'webhook-ca-file': {
    type: 'string',
    description:
      "PEM CA certificates, one of which signed the webhook's certificate (with --webhook-cert-file)",
  },
  'webhook-certificate-reload-period': {
    type: 'string',
    default: '30s',
    description: 'how often the certificate files are read, or the Secret checked, for a renewal',
    duration: { min: '100ms', max: longest },
  },
  'webhook-url': { type: 'string', description: 'base https:// URL the API server calls the webhook at' },
  'webhook-service': {
    type: 'string',
    description: `namespace/name:port of the Service in front of the webhook, port 1 to ${maxPort}`,
  },
  'health-probe-bind-address': {
    type: 'string',
    default: ':8081',
    description: `/healthz and /readyz, host:port or :port, port 1 to ${maxPort}`,
  },
  'metrics-bind-address': {
    type: 'string',
    default: ':8080',
    description: `/metrics, host:port or :port, port 1 to ${maxPort}; 0 disables`,
  },
  'sync-period': {
    type: 'string',
    default: '5m',
    description: 'how often every ring is synced in full',
    duration: { min: '1s', max: longest },
  },
  'sync-concurrency': {
    type: 'string',
    // Measured (docs/performance/rebalance.md): at 100 a rebalance of 10,000 objects costs the sharder about
    // the CPU it costs at 10, and its drains do not wait 10 at a time on a busy API server's latency.
    default: '100',
    description: 'object patches at once per ring',
    // Beyond that the API server queues or refuses them: by default it serves 200 mutating requests at once
    // (--max-mutating-requests-inflight), shared by all its clients.
    integer: { min: 1, max: 200 },
  },
  help: { type: 'boolean', short: 'h', description: 'print this help' },
} as const;

type OptionName = keyof typeof options;
type Values = Partial<Record<OptionName, string | boolean>>;
type OptionWith<Key extends string> = {
  [Name in OptionName]: (typeof options)[Name] extends Record<Key, unknown> ? Name : never;
}[OptionName];

export function usage(): string {
  const lines = Object.entries(options).map(([name, option]) => {
    const range = 'duration' in option ? option.duration : 'integer' in option ? option.integer : undefined;
    const allowed = range === undefined ? '' : `; ${range.min} to ${range.max}`;
    const fallback = 'default' in option ? ` (default ${String(option.default)})` : '';
    return `  --${name.padEnd(34)} ${option.description}${allowed}${fallback}`;
  });
  return `usage: sharder [options]\n${lines.join('\n')}`;
}

/** Refuses the value of `--option`: the message says what is wrong and what is expected. */
export function fail(option: string, message: string): never {
  throw new ConfigError(`--${option}: ${message}`);
}

function readConfigFile(path: string): Values {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    fail('config', unreadable(path, error));
  }
  let content: unknown;
  try {
    // Every value as text, read as the same flag would be: no YAML numbers (1e3, 0x10) or other types.
    content = yaml().parse(text, { schema: 'failsafe', logLevel: 'error' });
  } catch (error) {
    fail('config', `cannot parse ${path}: ${(error as Error).message}`);
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
    if (option.type === 'boolean') {
      if (value !== 'true' && value !== 'false') fail('config', `${path}: option "${key}" must be a boolean`);
      values[key as OptionName] = value === 'true';
    } else {
      if (typeof value !== 'string') fail('config', `${path}: option "${key}" must be a string`);
      values[key as OptionName] = value;
    }
  }
  return values;
}

/** A port: decimal digits, 1 to 65535 (no 0: each port here must be known to the probes and Services). */
function port(text: string | undefined): number | undefined {
  const value = Number(text);
  return text !== undefined && /^\d+$/.test(text) && value >= 1 && value <= maxPort ? value : undefined;
}

function address(option: OptionName, text: string): Address {
  const match = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d+)$/.exec(text);
  const host = match?.[1] ?? match?.[2] ?? '';
  const number = port(match?.[3]);
  if (number === undefined || (match?.[1] !== undefined && !isIPv6(host))) {
    fail(option, `"${text}" is not an address: use host:port or :port, port 1 to ${maxPort}, e.g. :8080`);
  }
  return { host: host || '0.0.0.0', port: number };
}

function duration(option: OptionWith<'duration'>, text: string): number {
  const { min, max } = options[option].duration;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    fail(option, `${(error as Error).message} (${min} to ${max})`);
  }
  if (ms < parseDuration(min) || ms > parseDuration(max))
    fail(option, `"${text}" is out of range: use ${min} to ${max}`);
  return ms;
}

function integer(option: OptionWith<'integer'>, text: string): number {
  const { min, max } = options[option].integer;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || value > max)
    fail(option, `"${text}" is not an integer from ${min} to ${max} (decimal digits only)`);
  return value;
}

function webhookUrl(text: string): string {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // Reported below, with the form expected.
  }
  // What the API server accepts in a webhook's clientConfig.url.
  if (
    url?.protocol !== 'https:' ||
    url.port === '0' ||
    url.username !== '' ||
    url.password !== '' ||
    /[?#]/.test(text)
  ) {
    fail(
      'webhook-url',
      `"${text}" must be an https:// URL without user, query or fragment, port 1 to ${maxPort}, ` +
        'e.g. https://sharder.example.com:9443',
    );
  }
  return text.replace(/\/$/, '');
}

function serviceReference(text: string): { namespace: string; name: string; port: number } {
  const label = '[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?';
  const match = new RegExp(`^(${label})/(${label}):(\\d+)$`).exec(text);
  const number = port(match?.[3]);
  if (!match || number === undefined)
    fail(
      'webhook-service',
      `"${text}" must be namespace/name:port, port 1 to ${maxPort}, e.g. controller-rings-system/sharder:443`,
    );
  return { namespace: match[1] ?? '', name: match[2] ?? '', port: number };
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

/** A duration option's value as given, and in ms. */
interface GivenDuration {
  text: string;
  ms: number;
}

/** The reload period and, with leader election, the Lease duration. */
interface RotationPeriods {
  reloadPeriod: GivenDuration;
  leaseDuration: GivenDuration | undefined;
}

/** The certificate files when any is named (then all three), else the sharder-managed Secret. */
function webhookCertificates(
  text: (name: OptionName) => string | undefined,
  { reloadPeriod, leaseDuration }: RotationPeriods,
): SharderConfig['webhook']['certificates'] {
  const files = ['webhook-cert-file', 'webhook-key-file', 'webhook-ca-file'] as const;
  const named = files.find((name) => text(name) !== undefined);
  const secret = text('webhook-certificate-secret');
  if (named !== undefined) {
    if (secret !== undefined) {
      fail(
        'webhook-certificate-secret',
        `give either it or the certificate files (--${named}), not both: the sharder manages the Secret's ` +
          'certificates, someone else the files',
      );
    }
    const file = (name: (typeof files)[number]): string =>
      text(name) ?? fail(name, `is required with --${named}`);
    return {
      files: {
        certFile: file('webhook-cert-file'),
        keyFile: file('webhook-key-file'),
        caFile: file('webhook-ca-file'),
      },
    };
  }
  const name = secret ?? defaultCertificateSecret;
  if (!/^[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?$/.test(name))
    fail('webhook-certificate-secret', `"${name}" is not a Secret name (a DNS subdomain)`);
  const caValidity = text('webhook-ca-validity') ?? fail('webhook-ca-validity', 'is required');
  const certificateValidity =
    text('webhook-certificate-validity') ?? fail('webhook-certificate-validity', 'is required');
  const caValidityMs = duration('webhook-ca-validity', caValidity);
  const certificateValidityMs = duration('webhook-certificate-validity', certificateValidity);
  if (certificateValidityMs > caValidityMs) {
    fail(
      'webhook-certificate-validity',
      `"${certificateValidity}" exceeds --webhook-ca-validity (${caValidity}): no certificate outlives its CA`,
    );
  }
  // The third left at renewal must outlast a spell without a leader (only the leader rotates; a successor
  // takes the Lease once it expired) and two looks, one to see that the certificate is due, one to renew it.
  const marginMs = (leaseDuration?.ms ?? 0) + 2 * reloadPeriod.ms;
  if (certificateValidityMs < 3 * marginMs) {
    const lease =
      leaseDuration === undefined
        ? ''
        : `--leader-election-lease-duration (${leaseDuration.text}: only the leader renews, and a successor ` +
          'waits that long) plus ';
    fail(
      'webhook-certificate-validity',
      `"${certificateValidity}" is shorter than ${Math.ceil((3 * marginMs) / 1000)}s: a certificate is renewed ` +
        `with a third of its validity left, which must outlast ${lease}two ` +
        `--webhook-certificate-reload-period (${reloadPeriod.text})`,
    );
  }
  return { secret: { name, caValidityMs, certificateValidityMs } };
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

  const leaseDuration = required('leader-election-lease-duration');
  const renewDeadline = required('leader-election-renew-deadline');
  const retryPeriod = required('leader-election-retry-period');
  const leaseDurationMs = duration('leader-election-lease-duration', leaseDuration);
  const renewDeadlineMs = duration('leader-election-renew-deadline', renewDeadline);
  const retryPeriodMs = duration('leader-election-retry-period', retryPeriod);
  if (leaseDurationMs % 1000 !== 0)
    fail('leader-election-lease-duration', `"${leaseDuration}" is not whole seconds (a Lease holds seconds)`);
  if (renewDeadlineMs >= leaseDurationMs) {
    fail(
      'leader-election-renew-deadline',
      `"${renewDeadline}" must be shorter than --leader-election-lease-duration (${leaseDuration})`,
    );
  }
  if (retryPeriodMs * retryJitter >= renewDeadlineMs) {
    fail(
      'leader-election-retry-period',
      `"${retryPeriod}" times ${retryJitter} (its jitter) must be shorter than ` +
        `--leader-election-renew-deadline (${renewDeadline}), as client-go requires`,
    );
  }

  const leaderElect = values['leader-elect'] !== false;
  const reloadPeriod = required('webhook-certificate-reload-period');
  const reloadPeriodMs = duration('webhook-certificate-reload-period', reloadPeriod);
  const metrics = required('metrics-bind-address');
  return {
    kubeconfig: text('kubeconfig'),
    namespace,
    identity: text('identity') ?? env.POD_NAME ?? hostname(),
    log: { level, format },
    leaderElection: {
      enabled: leaderElect,
      leaseName: required('leader-election-lease-name'),
      leaseDurationSeconds: leaseDurationMs / 1000,
      renewDeadlineMs,
      retryPeriodMs,
    },
    webhook: {
      address: address('webhook-bind-address', required('webhook-bind-address')),
      certificates: webhookCertificates(text, {
        reloadPeriod: { text: reloadPeriod, ms: reloadPeriodMs },
        leaseDuration: leaderElect ? { text: leaseDuration, ms: leaseDurationMs } : undefined,
      }),
      reloadPeriodMs,
      clientConfig:
        url !== undefined ? { url: webhookUrl(url) } : { service: serviceReference(service ?? '') },
    },
    healthProbeAddress: address('health-probe-bind-address', required('health-probe-bind-address')),
    metricsAddress: metrics === '0' ? undefined : address('metrics-bind-address', metrics),
    sync: {
      periodMs: duration('sync-period', required('sync-period')),
      concurrency: integer('sync-concurrency', required('sync-concurrency')),
    },
  };
}
