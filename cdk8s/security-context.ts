// The Pod Security "restricted" profile, as every controller-rings pod (sharder, example shards) runs it.
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';

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
