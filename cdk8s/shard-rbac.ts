// What a ring's shards may do, and no more: what the shard library does (its Lease, its label-filtered caches,
// drain acknowledgements; shard/shard.ts, runtime/leader-election.ts) and what the author's reconcile writes.
import { Construct } from 'constructs';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { define } from './api-object.ts';
import { defineBoundRole } from './bound-role.ts';
import type { GroupResource } from './sharded-resource-access.ts';

/** A permission the controller's reconcile needs, in all namespaces. */
export interface Permission {
  /** API group; '' for the core group. */
  group: string;
  /** Plural resource name, or resource/subresource, e.g. secrets, configmaps/finalizers. */
  resource: string;
  verbs: readonly string[];
}

export interface ShardRbacProps {
  /** The shards' namespace: their service account and Leases. */
  namespace: string;
  /** Of the service account, and the prefix of the roles'. */
  name: string;
  /** The ring's resources and their controlled resources. */
  ringResources: readonly GroupResource[];
  permissions?: readonly Permission[];
  labels: Record<string, string>;
}

/**
 * The shard's own Lease, named after the shard: not known in advance, so no resourceNames. get, then create or
 * update (runtime/leader-election.ts); no list or watch: the shard reads its Lease by name.
 */
export const shardLeaseRules: readonly IPolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/**
 * The library's label-filtered caches (list, watch) of the ring's resources and their controlled resources, in
 * every namespace the ring may select, and its drain acknowledgements (patch). get comes with list: it shows
 * nothing more.
 */
export const shardLibraryVerbs = ['get', 'list', 'watch', 'patch'] as const;

const resourcePattern = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\/[a-z0-9]([-a-z0-9]*[a-z0-9])?)?$/;

function permissionRule({ group, resource, verbs }: Permission): IPolicyRule {
  if (!resourcePattern.test(resource)) {
    throw new Error(
      `ShardDeployment permissions: "${resource}" is not a resource (e.g. secrets, pods/status)`,
    );
  }
  if (verbs.length === 0) throw new Error(`ShardDeployment permissions: no verbs for ${resource}`);
  return { apiGroups: [group], resources: [resource], verbs: [...verbs] };
}

/** The shards' ClusterRole: the library's rules by API group, then the author's, as given. */
export function shardClusterRules(
  ringResources: readonly GroupResource[],
  permissions: readonly Permission[] = [],
): IPolicyRule[] {
  return [
    ...[...Map.groupBy(ringResources, ({ group }) => group)].map(([group, members]) => ({
      apiGroups: [group],
      resources: members.map(({ resource }) => resource),
      verbs: [...shardLibraryVerbs],
    })),
    ...permissions.map(permissionRule),
  ];
}

/** The shards' service account, bound to a Role for their Leases and a ClusterRole for the rest. */
export class ShardRbac extends Construct {
  readonly serviceAccountName: string;

  constructor(scope: Construct, id: string, props: ShardRbacProps) {
    super(scope, id);
    const { namespace, name, labels } = props;
    this.serviceAccountName = name;
    const subjects = [{ kind: 'ServiceAccount', name, namespace }];
    define(this, 'service-account', {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name, namespace, labels },
    } satisfies IServiceAccount);
    // Cluster-wide: a ring selects namespaces by label, which RBAC cannot.
    defineBoundRole(this, {
      ids: ['cluster-role', 'cluster-role-binding'],
      name: `${name}-shard`,
      labels,
      rules: shardClusterRules(props.ringResources, props.permissions),
      subjects,
    });
    defineBoundRole(this, {
      ids: ['lease-role', 'lease-role-binding'],
      name: `${name}-shard-lease`,
      namespace,
      labels,
      rules: [...shardLeaseRules],
      subjects,
    });
  }
}
