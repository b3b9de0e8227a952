// The sharder's deployment: its namespace, RBAC, Deployment (2+ replicas, each serving the webhook, the
// controllers on the elected leader), Services for the webhook and for metrics, a PodDisruptionBudget, and
// the webhook certificate: by default the sharder's own (a Secret it creates and rotates), else cert-manager's
// or yours, mounted.
import { Construct } from 'constructs';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import type { IService } from 'kubernetes-models/v1/Service';
import {
  ConfigError,
  defaultCertificateSecret,
  parseConfig,
  type SharderConfig,
} from '../cmd/sharder/config.ts';
import { define } from './api-object.ts';
import { defaultNamespace, sharderLabels, sharderName, sharderSelector } from './names.ts';
import { SharderAdmissionPolicy } from './sharder-admission-policy.ts';
import { SharderRbac } from './sharder-rbac.ts';
import { WebhookCertificate } from './webhook-certificate.ts';
import {
  healthProbes,
  podIdentityEnv,
  restrictedContainerSecurityContext,
  restrictedNamespace,
  restrictedPodSecurityContext,
} from './pod-conventions.ts';

export interface SharderProps {
  /** The sharder's namespace, which is never sharded; default controller-rings-system. */
  namespace?: string;
  /** Whether to define the Namespace object too; default true. */
  createNamespace?: boolean;
  /**
   * The project's image (deploy/image/Containerfile), or one like it: Node.js 24 with the compiled sharder at
   * /app (the command is node with nodeFlags and /app/cmd/sharder/main.js).
   */
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Default 2: every replica serves the webhook, one leads. */
  replicas?: number;
  resources?: IResourceRequirements;
  /**
   * More flags of the sharder (node cmd/sharder/main.ts --help), e.g. ['--sync-period=10m']. They are checked
   * at synthesis; flags that the manifests depend on (addresses, webhook, namespace, identity, leader Lease
   * name, config files) are set by the construct and rejected here.
   */
  args?: readonly string[];
  /** Who keeps the webhook's certificate; default `{ managedBy: 'sharder' }`. */
  webhookCertificate?: WebhookCertificateSource;
}

export type WebhookCertificateSource =
  /**
   * The sharder creates a CA and a serving certificate in the Secret `secretName` (default
   * controller-rings-sharder-webhook-certificates) of its namespace, and rotates them; nothing to install.
   * Validities: the args --webhook-ca-validity and --webhook-certificate-validity.
   */
  | { managedBy: 'sharder'; secretName?: string }
  /** cert-manager (which must be installed) issues it from a CA of its own into a Secret mounted in the pods. */
  | { managedBy: 'cert-manager' }
  /** A Secret of yours with tls.crt, tls.key and ca.crt (the CA that signed tls.crt), renewed by you, mounted. */
  | { managedBy: 'external'; secretName: string };

// Measured (docs/performance/sharder-memory.md): 71-86 MiB resident from an empty ring to 100,000 objects,
// with the V8 flags of nodeOptions and the malloc settings of mallocEnv below; the webhook's bodies in flight
// add at most 16 MiB (docs/limits.md). The limit leaves room for several large rings and a burst.
export const defaultResources: IResourceRequirements = {
  requests: { cpu: '100m', memory: '128Mi' },
  limits: { memory: '512Mi' },
};

/**
 * V8's old-space limit for a container memory limit: 60 %, leaving room for the young generation, code and
 * buffers. V8 collects garbage lazily up to its limit, and its default ignores the container's.
 */
export function heapLimitMiB(memoryLimit: string | number | undefined): number | undefined {
  const match = /^(\d+)(Mi|Gi)$/.exec(String(memoryLimit ?? ''));
  if (match === null) return undefined;
  const mebibytes = Number(match[1]) * (match[2] === 'Gi' ? 1024 : 1);
  return Math.floor(mebibytes * 0.6);
}

/**
 * NODE_OPTIONS for the sharder's container. A semi-space of at most 1 MiB: V8 otherwise grows its young
 * generation to 64 MiB (two 32 MiB semi-spaces) under a burst of allocation (loading the modules, a sync's
 * pages, a wave of admission reviews) and keeps it, ~60 MiB of resident memory for a process whose objects
 * live either very briefly (a page, a review) or as long as it (its caches). The cost is more, smaller
 * scavenges (docs/performance/sharder-memory.md: CPU per sync). Plus the old-space limit of heapLimitMiB,
 * where there is one.
 */
export function nodeOptions(memoryLimit: string | number | undefined): string {
  const heapLimit = heapLimitMiB(memoryLimit);
  return [
    '--max-semi-space-size=1',
    ...(heapLimit === undefined ? [] : [`--max-old-space-size=${heapLimit}`]),
  ].join(' ');
}

/**
 * V8 flags of the sharder's node command (node takes it on its command line, not in NODE_OPTIONS), as the
 * image's entrypoint passes them: no TurboFan (`--max-opt=2`: Maglev at most), whose code the process would
 * otherwise page in. The sharder runs no WebAssembly (its HTTP client is node's, whose parser is native), so
 * nothing else tiers up to TurboFan. Measured (docs/performance/sharder-memory.md): 5 MiB less idle RSS (72
 * instead of 77 MiB), for about 40 % more CPU per sync and a rebalance no dearer; Sparkplug only
 * (`--max-opt=1`) or no compiler (`--jitless`) save 5-6 MiB more for 2.3-2.8 × the CPU per sync.
 */
export const nodeFlags: readonly string[] = ['--max-opt=2'];

/**
 * glibc malloc's settings for the sharder's container (docs/performance/sharder-memory.md, "Runtime
 * settings": 7 MiB less idle, less growth after syncs, the rebalance's CPU unchanged). What a sync grows is
 * native memory (socket and parser buffers of its list pages) that malloc keeps. A fixed mmap threshold of
 * 16 KiB serves each buffer of a TLS record or more from its own mapping, returned on free: node's copies of a
 * list page's body chunks (up to a TLS record, 16 KiB, each) live as long as the page and are freed with the
 * old generation, among longer-lived allocations that would otherwise keep their heap pages (1.5-4 MiB less
 * after syncs than at 128 KiB, "Smaller mappings"; glibc otherwise raises the threshold up to 32 MiB after the
 * first large free, and later large buffers come from the heap and stay); a fixed trim
 * threshold of 1 MiB returns free memory at the top of a heap (at 128 KiB the heap shrank and grew again so
 * often that a rebalance took 20-30 % more CPU); two arenas instead of up to eight per core, so that V8's GC
 * threads and libuv's pool do not each keep a heap of their own. Other libcs ignore them.
 */
export const mallocEnv: readonly { name: string; value: string }[] = [
  { name: 'MALLOC_ARENA_MAX', value: '2' },
  { name: 'MALLOC_MMAP_THRESHOLD_', value: '16384' },
  { name: 'MALLOC_TRIM_THRESHOLD_', value: '1048576' },
];

const ports = { webhook: 9443, metrics: 8080, probes: 8081 } as const;
const certificateDirectory = '/etc/controller-rings/webhook';

/** Flags whose values other objects depend on (ports, Services, mounts, the Role's Lease name). */
const ownedFlags = new Set([
  'config',
  'kubeconfig',
  'namespace',
  'identity',
  'leader-election-lease-name',
  'webhook-bind-address',
  'webhook-cert-file',
  'webhook-key-file',
  'webhook-ca-file',
  'webhook-certificate-secret',
  'webhook-url',
  'webhook-service',
  'health-probe-bind-address',
  'metrics-bind-address',
  'help',
]);

function flagName(arg: string): string | undefined {
  if (arg === '-h') return 'help';
  return arg.startsWith('--') ? arg.slice(2).split('=')[0] : undefined;
}

/**
 * The sharder's configuration from the container's arguments, as a pod in `namespace` reads them. Fails
 * synthesis on flags the sharder would reject at start-up, or that the construct sets itself.
 */
function checkArgs(args: readonly string[], extra: readonly string[], namespace: string): SharderConfig {
  for (const arg of extra) {
    const name = flagName(arg);
    if (name !== undefined && ownedFlags.has(name)) {
      throw new Error(`Sharder: --${name} is set by the construct; use its props instead of args`);
    }
  }
  const expanded = args.map((arg) =>
    arg.replaceAll('$(POD_NAMESPACE)', namespace).replaceAll('$(POD_NAME)', `${sharderName}-0`),
  );
  let config: SharderConfig | 'help';
  try {
    config = parseConfig(expanded, {});
  } catch (error) {
    if (error instanceof ConfigError) throw new Error(`Sharder args: ${error.message}`, { cause: error });
    throw error;
  }
  if (config === 'help') throw new Error('Sharder args: --help runs no sharder');
  return config;
}

export class Sharder extends Construct {
  readonly namespace: string;
  readonly serviceAccountName: string;
  readonly webhookServiceName = `${sharderName}-webhook`;
  readonly metricsServiceName = `${sharderName}-metrics`;
  readonly leaderElectionLeaseName = sharderName;
  /** The container's arguments. */
  readonly args: readonly string[];

  constructor(scope: Construct, id: string, props: SharderProps) {
    super(scope, id);
    const namespace = props.namespace ?? defaultNamespace;
    this.namespace = namespace;
    const labels = { ...sharderLabels };
    const certificate = props.webhookCertificate ?? { managedBy: 'sharder' };
    // The Secret the sharder manages, or else the one mounted into its pods.
    const managedSecret =
      certificate.managedBy === 'sharder' ? (certificate.secretName ?? defaultCertificateSecret) : undefined;
    const mountedSecret =
      certificate.managedBy === 'external'
        ? certificate.secretName
        : certificate.managedBy === 'cert-manager'
          ? `${this.webhookServiceName}-tls`
          : undefined;

    if (props.createNamespace ?? true) {
      define(this, 'namespace', restrictedNamespace(namespace, labels));
    }
    const rbac = new SharderRbac(this, 'rbac', {
      namespace,
      leaderElectionLeaseName: this.leaderElectionLeaseName,
      ...(managedSecret === undefined ? {} : { webhookCertificateSecret: managedSecret }),
    });
    this.serviceAccountName = rbac.serviceAccountName;
    if (certificate.managedBy === 'cert-manager' && mountedSecret !== undefined) {
      new WebhookCertificate(this, 'webhook-certificate', {
        namespace,
        serviceName: this.webhookServiceName,
        secretName: mountedSecret,
      });
    }

    const extra = props.args ?? [];
    this.args = [
      '--namespace=$(POD_NAMESPACE)',
      '--identity=$(POD_NAME)',
      `--leader-election-lease-name=${this.leaderElectionLeaseName}`,
      `--webhook-bind-address=:${ports.webhook}`,
      // Through the Service (every replica serves the webhook), in whatever namespace the pod runs.
      `--webhook-service=$(POD_NAMESPACE)/${this.webhookServiceName}:443`,
      ...(mountedSecret === undefined
        ? [`--webhook-certificate-secret=${managedSecret ?? defaultCertificateSecret}`]
        : [
            `--webhook-cert-file=${certificateDirectory}/tls.crt`,
            `--webhook-key-file=${certificateDirectory}/tls.key`,
            `--webhook-ca-file=${certificateDirectory}/ca.crt`,
          ]),
      `--health-probe-bind-address=:${ports.probes}`,
      `--metrics-bind-address=:${ports.metrics}`,
      ...extra,
    ];
    const config = checkArgs(this.args, extra, namespace);
    new SharderAdmissionPolicy(this, 'admission-policy', {
      namespace,
      serviceAccountName: this.serviceAccountName,
      leaderElectionLeaseName: this.leaderElectionLeaseName,
      // The flags the Deployment passes: the policy lets the sharder's webhooks call what it will write.
      webhookClientConfig: config.webhook.clientConfig,
    });

    const replicas = props.replicas ?? 2;
    if (!Number.isInteger(replicas) || replicas < 1) {
      throw new Error(`Sharder: replicas must be a positive integer, not ${replicas}`);
    }
    this.#deployment(namespace, replicas, mountedSecret, props);
    this.#services(namespace);
    define(this, 'pod-disruption-budget', {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: sharderName, namespace, labels },
      spec: {
        maxUnavailable: 1,
        selector: { matchLabels: { ...sharderSelector } },
        // A pod that is not ready serves nothing: evicting it never costs availability.
        unhealthyPodEvictionPolicy: 'AlwaysAllow',
      },
    } satisfies IPodDisruptionBudget);
  }

  /** `secretName`: the certificate Secret to mount, if the sharder does not manage its own. */
  #deployment(
    namespace: string,
    replicas: number,
    secretName: string | undefined,
    props: SharderProps,
  ): void {
    const labels = { ...sharderLabels };
    const spread = (topologyKey: string) => ({
      topologyKey,
      maxSkew: 1,
      // Single-node and single-zone clusters still run every replica.
      whenUnsatisfiable: 'ScheduleAnyway' as const,
      labelSelector: { matchLabels: { ...sharderSelector } },
      matchLabelKeys: ['pod-template-hash'],
    });
    const resources = props.resources ?? defaultResources;
    define(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: sharderName, namespace, labels },
      spec: {
        replicas,
        selector: { matchLabels: { ...sharderSelector } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: this.serviceAccountName,
            securityContext: restrictedPodSecurityContext,
            // Enough for the preStop pause, draining the controllers and releasing the leader Lease.
            terminationGracePeriodSeconds: 30,
            topologySpreadConstraints: [
              spread('kubernetes.io/hostname'),
              spread('topology.kubernetes.io/zone'),
            ],
            containers: [
              {
                name: 'sharder',
                image: props.image,
                ...(props.imagePullPolicy === undefined ? {} : { imagePullPolicy: props.imagePullPolicy }),
                command: ['node', ...nodeFlags, '/app/cmd/sharder/main.js'],
                args: [...this.args],
                env: [
                  ...podIdentityEnv,
                  { name: 'NODE_OPTIONS', value: nodeOptions(resources.limits?.memory) },
                  ...mallocEnv,
                ],
                ports: [
                  { name: 'webhook', containerPort: ports.webhook, protocol: 'TCP' },
                  { name: 'metrics', containerPort: ports.metrics, protocol: 'TCP' },
                  { name: 'probes', containerPort: ports.probes, protocol: 'TCP' },
                ],
                // Ready once its caches have synced and the webhook serves: only then does the Service send admission
                // requests to it.
                ...healthProbes('probes'),
                // The webhook keeps serving while the endpoint's removal reaches the API servers.
                lifecycle: { preStop: { sleep: { seconds: 5 } } },
                resources,
                securityContext: restrictedContainerSecurityContext,
                ...(secretName === undefined
                  ? {}
                  : {
                      volumeMounts: [
                        { name: 'webhook-certificate', mountPath: certificateDirectory, readOnly: true },
                      ],
                    }),
              },
            ],
            ...(secretName === undefined
              ? {}
              : { volumes: [{ name: 'webhook-certificate', secret: { secretName, defaultMode: 0o440 } }] }),
          },
        },
      },
    } satisfies IDeployment);
  }

  #services(namespace: string): void {
    const labels = { ...sharderLabels };
    const service = (id: string, name: string, port: { name: string; port: number; targetPort: string }) =>
      define(this, id, {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name, namespace, labels },
        spec: { selector: { ...sharderSelector }, ports: [{ ...port, protocol: 'TCP' }] },
      } satisfies IService);
    service('webhook-service', this.webhookServiceName, { name: 'https', port: 443, targetPort: 'webhook' });
    service('metrics-service', this.metricsServiceName, {
      name: 'metrics',
      port: ports.metrics,
      targetPort: 'metrics',
    });
  }
}
