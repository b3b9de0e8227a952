// A sharded controller's deployment: its namespace, service account and least-privilege RBAC (ShardRbac), and a
// Deployment of its shards with the pod conventions (restricted security context, POD_NAME and POD_NAMESPACE,
// probes). Everything the ring decides (its name, its resources, the namespace it trusts) comes from the
// ControllerRing construct.
import { Construct } from 'constructs';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { IResourceRequirements } from 'kubernetes-models/v1/ResourceRequirements';
import { define } from './api-object.ts';
import type { ControllerRing } from './controller-ring.ts';
import {
  healthProbes,
  podIdentityEnv,
  restrictedContainerSecurityContext,
  restrictedNamespace,
  restrictedPodSecurityContext,
} from './pod-conventions.ts';
import { ShardRbac, type Permission } from './shard-rbac.ts';

export interface ShardDeploymentProps {
  ring: ControllerRing;
  /** The shards' namespace: their pods, service account and Leases. The ring trusts it (ControllerRing). */
  namespace: string;
  /** Whether to define the Namespace (Pod Security "restricted" enforced); default true. */
  createNamespace?: boolean;
  /**
   * Name of the Deployment, the service account and (with -shard, -shard-lease) the roles; default the ring's
   * name. Give one to each of several ShardDeployments of one ring.
   */
  name?: string;
  image: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Default the image's entrypoint. */
  command?: readonly string[];
  /** E.g. [`--ring=${ring.name}`, '--name=$(POD_NAME)', '--namespace=$(POD_NAMESPACE)']. */
  args?: readonly string[];
  /** More environment, after POD_NAMESPACE and POD_NAME (the shard's Lease namespace and unique name). */
  env?: readonly IEnvVar[];
  /** Default 3. */
  replicas?: number;
  /**
   * The port the controller serves /metrics, /healthz and /readyz on (runtime/monitoring-server.ts): a container
   * port named metrics, and the liveness and readiness probes. Default: none, and no probes.
   */
  monitoringPort?: number;
  /** Default: what the example needs (defaultShardResources). */
  resources?: IResourceRequirements;
  /** Longer than the longest reconcile: on SIGTERM the shard finishes them, then releases its Lease. Default 30. */
  terminationGracePeriodSeconds?: number;
  /** What the reconcile needs beyond the library's own access (its Lease, caches and drains), in all namespaces. */
  permissions?: readonly Permission[];
  /** Added to every object; app.kubernetes.io/name is the name, and selects the pods. */
  labels?: Record<string, string>;
}

// Measured for the example: about 160 MiB resident with an empty cache (Node.js 24 and the project's modules).
export const defaultShardResources: IResourceRequirements = {
  requests: { cpu: '50m', memory: '192Mi' },
  limits: { memory: '384Mi' },
};

export class ShardDeployment extends Construct {
  readonly name: string;
  readonly namespace: string;
  readonly serviceAccountName: string;

  constructor(scope: Construct, id: string, props: ShardDeploymentProps) {
    super(scope, id);
    const { ring, namespace, name = ring.name } = props;
    this.name = name;
    this.namespace = namespace;
    ring.addShardNamespace(namespace);
    const replicas = props.replicas ?? 3;
    if (!Number.isInteger(replicas) || replicas < 0) {
      throw new Error(`ShardDeployment: replicas must be a non-negative integer, not ${replicas}`);
    }
    // A Deployment's selector is immutable: it holds the name only.
    const selector = { 'app.kubernetes.io/name': name };
    const labels = { ...props.labels, ...selector };

    if (props.createNamespace ?? true) {
      define(this, 'namespace', restrictedNamespace(namespace, labels));
    }
    const rbac = new ShardRbac(this, 'rbac', {
      namespace,
      name,
      ringResources: ring.groupResources,
      ...(props.permissions === undefined ? {} : { permissions: props.permissions }),
      labels,
    });
    this.serviceAccountName = rbac.serviceAccountName;

    const port = props.monitoringPort;
    define(this, 'deployment', {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace, labels },
      spec: {
        replicas,
        selector: { matchLabels: selector },
        // A new shard joins the ring (and is ready) before an old one leaves it: the ring keeps its capacity.
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
          metadata: { labels },
          spec: {
            serviceAccountName: this.serviceAccountName,
            securityContext: restrictedPodSecurityContext,
            terminationGracePeriodSeconds: props.terminationGracePeriodSeconds ?? 30,
            containers: [
              {
                name: 'shard',
                image: props.image,
                ...(props.imagePullPolicy === undefined ? {} : { imagePullPolicy: props.imagePullPolicy }),
                ...(props.command === undefined ? {} : { command: [...props.command] }),
                ...(props.args === undefined ? {} : { args: [...props.args] }),
                // The pod name is unique and stable across container restarts: a restarted shard takes its
                // Lease, and with it its objects, back.
                env: [...podIdentityEnv, ...(props.env ?? [])],
                ...(port === undefined
                  ? {}
                  : {
                      ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }],
                      // Ready once it holds its Lease and its caches have synced.
                      ...healthProbes('metrics'),
                    }),
                resources: props.resources ?? defaultShardResources,
                securityContext: restrictedContainerSecurityContext,
              },
            ],
          },
        },
      },
    } satisfies IDeployment);
  }
}
