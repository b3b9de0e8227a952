// What a user may do, asked of the API server (SubjectAccessReview): for tests of generated RBAC, which judge
// the rules as the authorizer does rather than by reading them.
import type { RestClient } from '../../runtime/rest.ts';

export interface Attributes {
  verb: string;
  group?: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface Subject {
  user: string;
  groups: string[];
}

/** A service account as the authenticator presents it. */
export function serviceAccountSubject(namespace: string, name: string): Subject {
  return {
    user: `system:serviceaccount:${namespace}:${name}`,
    groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'],
  };
}

/** E.g. "patch configmaps in apps", "update leases.coordination.k8s.io shard-0 in shards". */
export function describeAttributes({
  verb,
  group,
  resource,
  subresource,
  namespace,
  name,
}: Attributes): string {
  const what = `${resource}${subresource === undefined ? '' : `/${subresource}`}${group ? `.${group}` : ''}`;
  return `${verb} ${what}${name === undefined ? '' : ` ${name}`} in ${namespace ?? 'all namespaces'}`;
}

/** The checks the subject passes, described: compare with `checks.map(describeAttributes)` or []. */
export async function permitted(rest: RestClient, subject: Subject, checks: Attributes[]): Promise<string[]> {
  const answers = await Promise.all(
    checks.map(async (resourceAttributes) => {
      const review = await rest.request<{ status?: { allowed?: boolean } }>({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: { ...subject, resourceAttributes },
        },
      });
      return review.status?.allowed === true ? [describeAttributes(resourceAttributes)] : [];
    }),
  );
  return answers.flat();
}
