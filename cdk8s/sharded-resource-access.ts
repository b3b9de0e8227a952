// The grant a user gives the sharder on the resources of their rings (design.md, "What the sharder must not
// do"): the sync lists them as metadata and patches their shard and drain labels, in all namespaces.
import { Construct } from 'constructs';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import { defineBoundRole } from './bound-role.ts';
import { defaultNamespace, sharderName } from './names.ts';

export interface GroupResource {
  /** API group; '' for the core group. */
  group: string;
  /** Plural resource name, e.g. configmaps, deployments. */
  resource: string;
}

export interface ShardedResourceAccessProps {
  /** Every resource of the ring: its resources and their controlled resources. */
  resources: readonly GroupResource[];
  /**
   * The sharder's service account: pass the Sharder construct, or its namespace and service account name.
   * Default: controller-rings-sharder in controller-rings-system, as in config/.
   */
  sharder?: { namespace: string; serviceAccountName: string };
  /** Name of the ClusterRole and its binding; default controller-rings-sharded-<id>. */
  name?: string;
  /** Also grant watch: a ring with `assignment: Watch` watches its unassigned objects. Default false. */
  watch?: boolean;
}

/**
 * list and patch are what the sync does; get because it re-reads an object whose patch conflicted (get adds
 * nothing to what list already shows).
 */
export const shardedResourceVerbs = ['get', 'list', 'patch'] as const;

/** What a ring with `assignment: Watch` needs besides: it watches the objects without a shard label. */
export const watchAssignmentVerbs = [...shardedResourceVerbs, 'watch'] as const;

const resourceName = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const groupName = /^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function rules(resources: readonly GroupResource[], verbs: readonly string[]): IPolicyRule[] {
  const byGroup = new Map<string, string[]>();
  for (const { group, resource } of resources) {
    if (!groupName.test(group)) throw new Error(`ShardedResourceAccess: "${group}" is not an API group name`);
    if (!resourceName.test(resource)) {
      throw new Error(
        `ShardedResourceAccess: "${resource}" is not a plural resource name (e.g. deployments; no subresources)`,
      );
    }
    const names = byGroup.get(group) ?? [];
    if (!names.includes(resource)) names.push(resource);
    byGroup.set(group, names);
  }
  return [...byGroup].map(([group, names]) => ({
    apiGroups: [group],
    resources: names,
    verbs: [...verbs],
  }));
}

/** Lets the sharder read and patch these resources in all namespaces: a ClusterRole and its binding. */
export class ShardedResourceAccess extends Construct {
  readonly name: string;

  constructor(scope: Construct, id: string, props: ShardedResourceAccessProps) {
    super(scope, id);
    if (props.resources.length === 0) throw new Error('ShardedResourceAccess: give at least one resource');
    this.name = props.name ?? `controller-rings-sharded-${id}`;
    const sharder = props.sharder ?? { namespace: defaultNamespace, serviceAccountName: sharderName };
    const labels = { 'app.kubernetes.io/part-of': 'controller-rings' };
    defineBoundRole(this, {
      ids: ['cluster-role', 'cluster-role-binding'],
      name: this.name,
      labels,
      rules: rules(props.resources, props.watch === true ? watchAssignmentVerbs : shardedResourceVerbs),
      subjects: [{ kind: 'ServiceAccount', name: sharder.serviceAccountName, namespace: sharder.namespace }],
    });
  }
}
