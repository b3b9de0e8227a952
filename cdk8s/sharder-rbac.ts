// What the sharder may do, and no more (design.md, "What the sharder must not do"): it watches rings, shard
// Leases, its webhook configurations and namespaces; it writes ring status and finalizers, shard Lease states,
// its webhook configurations, its own leader-election Lease, the rings' Events (in `default`) and (when it manages
// them) the Secret of its webhook certificates. Access to sharded resources is granted by users (ShardedResourceAccess).
import { Construct } from 'constructs';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { group, plural } from '../api/v1alpha1/index.ts';
import { clusterScopedEventNamespace } from '../runtime/event-namespace.ts';
import { define } from './api-object.ts';
import { defineBoundRole } from './bound-role.ts';
import { sharderLabels, sharderName } from './names.ts';

// get and update come with list and patch: they grant nothing more, and keep a client change that reads one
// object or replaces it from failing.
const clusterRules: IPolicyRule[] = [
  { apiGroups: [group], resources: [plural], verbs: ['get', 'list', 'watch', 'patch', 'update'] },
  { apiGroups: [group], resources: [`${plural}/status`], verbs: ['patch', 'update'] },
  // The webhook configurations a ring owns set blockOwnerDeletion, which the OwnerReferencesPermission-
  // Enforcement admission plugin allows only to those who may update the owner's finalizers.
  { apiGroups: [group], resources: [`${plural}/finalizers`], verbs: ['update'] },
  // Shard Leases live in the shards' namespaces: their states are labelled, uncertain ones acquired, orphaned
  // ones deleted. No create: the sharder never makes a shard Lease.
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'],
  },
  // One per ring, named after it: not known in advance, so no resourceNames.
  {
    apiGroups: ['admissionregistration.k8s.io'],
    resources: ['mutatingwebhookconfigurations'],
    verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
  },
  // Rings select namespaces by label.
  { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
  // A ring's status says which of its resources the sharder may not list or patch.
  { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'], verbs: ['create'] },
];

/**
 * What the sharder may patch for itself (rings, Leases, webhook configurations), "group/resource": these grants
 * are its own, not a ring's, so no ring's webhook may intercept them (SharderAdmissionPolicy).
 */
export function ownPatchableResources(): string[] {
  return clusterRules
    .filter((rule) => rule.verbs.includes('patch'))
    .flatMap((rule) =>
      (rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? [])
          .filter((resource) => !resource.includes('/'))
          .map((resource) => `${group}/${resource}`),
      ),
    );
}

/**
 * Create of `resource` in its namespace (a create cannot be limited by name), and `verbs` on the one object
 * named `name`.
 */
function createAndNamed(apiGroup: string, resource: string, name: string, verbs: string[]): IPolicyRule[] {
  return [
    { apiGroups: [apiGroup], resources: [resource], verbs: ['create'] },
    { apiGroups: [apiGroup], resources: [resource], resourceNames: [name], verbs },
  ];
}

/** Its leader-election Lease: create in its namespace only; the named Lease's reads and writes. */
function leaderElectionRules(leaseName: string): IPolicyRule[] {
  return createAndNamed('coordination.k8s.io', 'leases', leaseName, ['get', 'update', 'patch']);
}

/**
 * The Secret of its webhook certificates: create in its namespace; read, watch (list and watch by name need
 * the field selector metadata.name, which the sharder sends) and replace the named one only. No delete, no
 * patch, no other Secret.
 */
function certificateSecretRules(secretName: string): IPolicyRule[] {
  return createAndNamed('', 'secrets', secretName, ['get', 'list', 'watch', 'update']);
}

/**
 * The leader's Events on rings (cluster-scoped, so their Events are in `default`): create, and patch for the
 * series of repeats. Not by name: Event names are made at creation. No read: the recorder keeps its own.
 */
const eventRules: IPolicyRule[] = [
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

export interface SharderRbacProps {
  namespace: string;
  leaderElectionLeaseName: string;
  /** The Secret the sharder keeps its webhook certificates in, when it manages them. */
  webhookCertificateSecret?: string;
}

/** The sharder's ServiceAccount and its ClusterRoles, Role and bindings. */
export class SharderRbac extends Construct {
  readonly serviceAccountName = sharderName;

  constructor(scope: Construct, id: string, props: SharderRbacProps) {
    super(scope, id);
    const { namespace } = props;
    const labels = { ...sharderLabels };
    const subjects = [{ kind: 'ServiceAccount', name: this.serviceAccountName, namespace }];

    define(this, 'service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: this.serviceAccountName, namespace, labels },
    } satisfies IServiceAccount);

    defineBoundRole(this, {
      ids: ['cluster-role', 'cluster-role-binding'],
      name: sharderName,
      labels,
      rules: clusterRules,
      subjects,
    });
    defineBoundRole(this, {
      ids: ['leader-election-role', 'leader-election-binding'],
      name: `${sharderName}-leader-election`,
      namespace,
      labels,
      rules: leaderElectionRules(props.leaderElectionLeaseName),
      subjects,
    });
    defineBoundRole(this, {
      ids: ['events-role', 'events-binding'],
      name: `${sharderName}-events`,
      namespace: clusterScopedEventNamespace,
      labels,
      rules: eventRules,
      subjects,
    });
    if (props.webhookCertificateSecret !== undefined) {
      defineBoundRole(this, {
        ids: ['webhook-certificates-role', 'webhook-certificates-binding'],
        name: `${sharderName}-webhook-certificates`,
        namespace,
        labels,
        rules: certificateSecretRules(props.webhookCertificateSecret),
        subjects,
      });
    }
  }
}
