// What the API server serves, by group and resource: controllers of a ControllerRing learn the version, kind
// and scope of the resources it names, which may be CRDs installed after the sharder started.
import type { IAPIGroupList } from '@kubernetes-models/apimachinery/apis/meta/v1/APIGroupList';
import type { IAPIResourceList } from '@kubernetes-models/apimachinery/apis/meta/v1/APIResourceList';
import { isNotFound, type RestClient } from './rest.ts';
import { resourceName } from '../sharding/resource-name.ts';

export interface ResourceInfo {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

export interface DiscoveryOptions {
  /** A group is asked for again on a miss only when its last answer is older than this. Default 3000. */
  minRefreshIntervalMs?: number;
  /** Milliseconds on a monotonic scale. */
  now?: () => number;
}

/** A group's resources at its preferred version, as of `fetchedAt`; an empty map when it is not served. */
interface GroupResources {
  fetchedAt: number;
  resources: Map<string, ResourceInfo>;
}

export class Discovery {
  readonly #rest: RestClient;
  readonly #minRefreshIntervalMs: number;
  readonly #now: () => number;
  // Promises, so that concurrent misses share one refresh.
  readonly #groups = new Map<string, Promise<GroupResources>>();

  constructor(rest: RestClient, options: DiscoveryOptions = {}) {
    this.#rest = rest;
    this.#minRefreshIntervalMs = options.minRefreshIntervalMs ?? 3_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /**
   * The preferred version of the group and the resource's kind etc.; undefined when the API server does not
   * serve it. Caches; on a miss refreshes (at most every few seconds) so that newly installed CRDs are found.
   */
  async resolve(group: string, resource: string): Promise<ResourceInfo | undefined> {
    const cached = this.#groups.get(group);
    if (cached !== undefined) {
      const known = await cached;
      const info = known.resources.get(resource);
      if (info !== undefined || this.#now() - known.fetchedAt < this.#minRefreshIntervalMs) return info;
      // Another caller may have started a refresh while this one waited.
      if (this.#groups.get(group) !== cached) return this.resolve(group, resource);
    }
    const refresh = this.#fetch(group);
    this.#groups.set(group, refresh);
    // A failed refresh is not cached: the next call asks again.
    refresh.catch(() => {
      if (this.#groups.get(group) === refresh) this.#groups.delete(group);
    });
    return (await refresh).resources.get(resource);
  }

  async #fetch(group: string): Promise<GroupResources> {
    const fetchedAt = this.#now();
    const version = await this.#preferredVersion(group);
    const resources = new Map<string, ResourceInfo>();
    if (version === undefined) return { fetchedAt, resources };
    const list = await this.#rest
      .request<IAPIResourceList>({ path: group === '' ? '/api/v1' : `/apis/${group}/${version}` })
      .catch((error: unknown) => {
        // The group went away between the two requests.
        if (isNotFound(error)) return undefined;
        throw error;
      });
    for (const served of list?.resources ?? []) {
      if (served.name.includes('/')) continue;
      resources.set(served.name, {
        group,
        version,
        resource: served.name,
        kind: served.kind,
        namespaced: served.namespaced,
        verbs: served.verbs,
      });
    }
    return { fetchedAt, resources };
  }

  async #preferredVersion(group: string): Promise<string | undefined> {
    // The core group has one version, and /api does not say which one is preferred.
    if (group === '') return 'v1';
    const groups = await this.#rest.request<IAPIGroupList>({ path: '/apis' });
    return groups.groups.find((served) => served.name === group)?.preferredVersion?.version;
  }
}

/** Collection path of a resource, cluster-wide or in a namespace: /api/v1/configmaps, /apis/apps/v1/namespaces/x/deployments */
export function collectionPath(info: ResourceInfo, namespace?: string): string {
  const prefix = info.group === '' ? `/api/${info.version}` : `/apis/${info.group}/${info.version}`;
  if (namespace === undefined) return `${prefix}/${info.resource}`;
  if (!info.namespaced) throw new Error(`${resourceName(info)} is cluster-scoped, not in a namespace`);
  return `${prefix}/namespaces/${namespace}/${info.resource}`;
}

/** The path of one object: a cluster-scoped resource's has no namespace, whatever `namespace` says. */
export function objectPath(info: ResourceInfo, namespace: string | undefined, name: string): string {
  return `${collectionPath(info, info.namespaced ? namespace : undefined)}/${name}`;
}
