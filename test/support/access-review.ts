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

interface RulesReview {
  status?: {
    resourceRules?: {
      verbs: string[];
      apiGroups?: string[];
      resources?: string[];
      resourceNames?: string[];
    }[];
    nonResourceRules?: { verbs: string[]; nonResourceURLs?: string[] }[];
    incomplete?: boolean;
    evaluationError?: string;
  };
}

/**
 * Everything the client's user may do in `namespace` (SelfSubjectRulesReview), one grant a line, sorted: e.g.
 * "patch configmaps", "update leases.coordination.k8s.io shard-0", "get /healthz". Compare with another user's
 * to see what one may do that the other may not.
 */
export async function grantsIn(client: RestClient, namespace: string): Promise<string[]> {
  const review = await client.request<RulesReview>({
    method: 'POST',
    path: '/apis/authorization.k8s.io/v1/selfsubjectrulesreviews',
    body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectRulesReview', spec: { namespace } },
  });
  const { resourceRules = [], nonResourceRules = [], incomplete, evaluationError } = review.status ?? {};
  if (incomplete === true) throw new Error(`the rules review is incomplete: ${evaluationError ?? ''}`);
  const grants = [
    ...resourceRules.flatMap(({ verbs, apiGroups = [], resources = [], resourceNames }) =>
      verbs.flatMap((verb) =>
        apiGroups.flatMap((group) =>
          resources.flatMap((resource) =>
            (resourceNames ?? [undefined]).map((name) =>
              [verb, `${resource}${group === '' ? '' : `.${group}`}`, name].filter(Boolean).join(' '),
            ),
          ),
        ),
      ),
    ),
    ...nonResourceRules.flatMap(({ verbs, nonResourceURLs = [] }) =>
      verbs.flatMap((verb) => nonResourceURLs.map((url) => `${verb} ${url}`)),
    ),
  ];
  return [...new Set(grants)].sort();
}
