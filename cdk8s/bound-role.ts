// A Role or ClusterRole and the binding of the same name that grants it: how the sharder's and the shards'
// RBAC (sharder-rbac.ts, shard-rbac.ts) and ShardedResourceAccess grant their rules to their service accounts.
import type { Construct } from 'constructs';
import type { IPolicyRule } from 'kubernetes-models/rbac.authorization.k8s.io/v1/PolicyRule';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { ISubject } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Subject';
import { define } from './api-object.ts';

export interface BoundRole {
  /** The construct ids of the role and of its binding. */
  ids: readonly [role: string, binding: string];
  /** Of the role and of its binding. */
  name: string;
  /** A Role's namespace; without one, a ClusterRole. */
  namespace?: string;
  labels: Record<string, string>;
  rules: IPolicyRule[];
  subjects: ISubject[];
}

export function defineBoundRole(scope: Construct, role: BoundRole): void {
  const { ids, name, namespace, labels, rules, subjects } = role;
  const kind = namespace === undefined ? 'ClusterRole' : 'Role';
  const metadata = namespace === undefined ? { name, labels } : { name, namespace, labels };
  // A ClusterRole and its binding have the fields of a Role and its binding, but for the kind (and a
  // ClusterRole's aggregationRule, not used).
  define(scope, ids[0], {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind,
    metadata,
    rules,
  } satisfies Omit<IRole, 'kind'> & { kind: typeof kind });
  define(scope, ids[1], {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: `${kind}Binding`,
    metadata,
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind, name },
    subjects,
  } satisfies Omit<IRoleBinding, 'kind'> & { kind: `${typeof kind}Binding` });
}
