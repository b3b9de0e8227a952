// What every controller-rings pod (sharder, example shards) has in common: the Pod Security "restricted"
// profile (and the Namespace that enforces it), its own name and namespace from the downward API, and probes
// on /healthz and /readyz.
import type { IEnvVar } from 'kubernetes-models/v1/EnvVar';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';
import type { NamedObject } from './api-object.ts';

export const restrictedPodSecurityContext: IPodSecurityContext = {
  runAsNonRoot: true,
  // Numeric, so the kubelet can verify runAsNonRoot whatever user name the image declares.
  runAsUser: 65532,
  runAsGroup: 65532,
  fsGroup: 65532,
  seccompProfile: { type: 'RuntimeDefault' },
};

export const restrictedContainerSecurityContext: ISecurityContext = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

/** POD_NAMESPACE and POD_NAME, which the programs take their namespace and identity from. */
export const podIdentityEnv: IEnvVar[] = [
  { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
  { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
];

/** Liveness on /healthz and readiness on /readyz, served on the named container port. */
export function healthProbes(port: string): { livenessProbe: IProbe; readinessProbe: IProbe } {
  return {
    livenessProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 10, failureThreshold: 3 },
    readinessProbe: { httpGet: { path: '/readyz', port }, periodSeconds: 5, failureThreshold: 2 },
  };
}

/** A Namespace whose pods Pod Security admission holds to the "restricted" profile. */
export function restrictedNamespace(name: string, labels: Record<string, string>): NamedObject & INamespace {
  return {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { ...labels, 'pod-security.kubernetes.io/enforce': 'restricted' } },
  };
}
