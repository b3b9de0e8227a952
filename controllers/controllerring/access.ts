// Whether the sharder may do what a ring needs on its resources (users grant list/patch explicitly, design.md
// "What the sharder must not do"). Answers are cached briefly: the ring controller runs on every Lease change.
import type { RestClient } from '../../runtime/rest.ts';

interface SelfSubjectAccessReview {
  status?: { allowed?: boolean };
}

const cacheMs = 30_000;

export class AccessChecker {
  readonly #rest: RestClient;
  readonly #now: () => number;
  readonly #cache = new Map<string, { allowed: boolean; at: number }>();

  constructor(rest: RestClient, now: () => number = Date.now) {
    this.#rest = rest;
    this.#now = now;
  }

  /** Whether the sharder may `verb` the resource in all namespaces. */
  async allowed(group: string, resource: string, verb: string): Promise<boolean> {
    const key = `${verb} ${resource}.${group}`;
    const cached = this.#cache.get(key);
    if (cached !== undefined && this.#now() - cached.at < cacheMs) return cached.allowed;
    const review = await this.#rest.request<SelfSubjectAccessReview>({
      method: 'POST',
      path: '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
      body: {
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SelfSubjectAccessReview',
        spec: { resourceAttributes: { group, resource, verb } },
      },
    });
    const allowed = review.status?.allowed === true;
    this.#cache.set(key, { allowed, at: this.#now() });
    return allowed;
  }

  /** The verbs of `verbs` the sharder may not use on the resource. */
  async missing(group: string, resource: string, verbs: readonly string[]): Promise<string[]> {
    const answers = await Promise.all(
      verbs.map(async (verb) => ((await this.allowed(group, resource, verb)) ? [] : [verb])),
    );
    return answers.flat();
  }
}
