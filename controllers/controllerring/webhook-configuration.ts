// The MutatingWebhookConfiguration the sharder keeps per ring (design.md, "Assignment and movement", 1): it
// sends CREATE and UPDATE of the ring's objects that carry no shard label to the sharder's webhook, and can
// never block the API (failurePolicy Ignore, short timeout).
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import type { IWebhookClientConfig } from 'kubernetes-models/admissionregistration.k8s.io/v1/WebhookClientConfig';
import type { ILabelSelector } from '@kubernetes-models/apimachinery/apis/meta/v1/LabelSelector';
import { apiVersion, kind, ringLabel, shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { matchesSelector, type LabelSelector } from '../../sharding/label-selector.ts';

export interface WebhookConfigurationOptions {
  /** Where the API server reaches the webhook for `ring`, with the CA bundle that signed its certificate. */
  clientConfig(ring: string): IWebhookClientConfig;
  /** Namespaces never sharded: the sharder's own and kube-system, so that they can always be repaired. */
  excludedNamespaces: readonly string[];
  timeoutSeconds?: number;
}

export function webhookConfigurationName(ring: string): string {
  return `controller-rings-${ring}`;
}

/** The ring's namespace selector with the excluded namespaces taken out, for the webhook and the sync alike. */
export function effectiveNamespaceSelector(
  ring: ControllerRing,
  excludedNamespaces: readonly string[],
): ILabelSelector {
  const selector = ring.spec.namespaceSelector ?? {};
  return {
    ...(selector.matchLabels ? { matchLabels: selector.matchLabels } : {}),
    matchExpressions: [
      ...(selector.matchExpressions ?? []),
      { key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [...excludedNamespaces] },
    ],
  };
}

/**
 * Whether objects in `namespace` are in a ring's scope under `selector` (effectiveNamespaceSelector), its labels
 * read from the sharder's cache: cluster-scoped objects always are, as with the webhook's namespaceSelector.
 */
export function inRingNamespaces(
  selector: LabelSelector,
  namespace: string | undefined,
  labelsOf: (namespace: string) => Readonly<Record<string, string>> | undefined,
): boolean {
  if (namespace === undefined || namespace === '') return true;
  const labels = labelsOf(namespace);
  return labels !== undefined && matchesSelector(selector, labels);
}

/** Every group/resource of the ring: its resources and their controlled resources. */
export function ringGroupResources(ring: ControllerRing): { group: string; resource: string }[] {
  return ring.spec.resources
    .flatMap((resource) => [resource, ...(resource.controlledResources ?? [])])
    .map(({ group = '', resource }) => ({ group, resource }));
}

export function desiredWebhookConfiguration(
  ring: ControllerRing,
  options: WebhookConfigurationOptions,
): IMutatingWebhookConfiguration & { apiVersion: string; kind: string } {
  const name = ring.metadata?.name ?? '';
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: {
      name: webhookConfigurationName(name),
      labels: { [ringLabel]: name },
      // Garbage-collected with its ring, also if the sharder is gone by then.
      ownerReferences: [
        { apiVersion, kind, name, uid: ring.metadata?.uid ?? '', controller: true, blockOwnerDeletion: true },
      ],
    },
    webhooks: [
      {
        name: `${name}.sharder.controller-rings.io`,
        admissionReviewVersions: ['v1'],
        clientConfig: options.clientConfig(name),
        rules: ringGroupResources(ring).map(({ group, resource }) => ({
          apiGroups: [group],
          apiVersions: ['*'],
          resources: [resource],
          operations: ['CREATE', 'UPDATE'],
          scope: '*',
        })),
        matchPolicy: 'Equivalent',
        objectSelector: { matchExpressions: [{ key: shardLabel(name), operator: 'DoesNotExist' }] },
        namespaceSelector: effectiveNamespaceSelector(ring, options.excludedNamespaces),
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        timeoutSeconds: options.timeoutSeconds ?? 3,
        reinvocationPolicy: 'Never',
      },
    ],
  };
}
