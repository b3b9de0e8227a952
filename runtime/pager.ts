// Paginated lists: large collections are read a page at a time, so memory stays bounded by the page size.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { pick, type Shape } from './json-pick.ts';
import { assignmentMetadata, scalar } from './metadata-shape.ts';
import { metadataListAccept, type Query, type RestClient } from './rest.ts';

export interface ListPage<T> {
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * '0' reads from the API server's watch cache, possibly slightly stale, but in one answer: the watch cache
   * ignores `limit` for it (kube-apiserver 1.37 too), so a list of 100,000 objects arrives and is parsed whole.
   */
  resourceVersion?: string;
  metadataOnly?: boolean;
  pageSize?: number;
  signal?: AbortSignal;
  /** Decodes a page's bytes in place of JSON.parse (RequestSpec.decode). */
  decode?: (body: Buffer) => ListPage<unknown>;
}

export interface PartialObjectMetadata {
  apiVersion?: string;
  kind?: string;
  metadata: IObjectMeta;
}

/**
 * Yields the pages of a list; each carries the list's resourceVersion, the last one the whole list's. The next
 * page is requested as soon as a page arrives, while the caller handles it: a caller that acts on each item
 * (the sync patches its objects) would otherwise stand still for a list request at every page. At most two
 * pages are held at once; one still in flight when the caller stops early is aborted.
 */
export async function* listPages<T>(
  rest: RestClient,
  path: string,
  options: ListOptions = {},
): AsyncGenerator<ListPage<T>> {
  const stop = new AbortController();
  const signal = options.signal === undefined ? stop.signal : AbortSignal.any([options.signal, stop.signal]);
  const request = (token: string | undefined): Promise<ListPage<T>> => {
    const query: Query = {
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      limit: options.pageSize ?? 500,
      // A continue token carries its own resourceVersion; the API server rejects both together.
      resourceVersion: token === undefined ? options.resourceVersion : undefined,
      continue: token,
    };
    const page = rest.request<ListPage<T>>({
      path,
      query,
      signal,
      ...(options.metadataOnly ? { accept: metadataListAccept } : {}),
      ...(options.decode === undefined ? {} : { decode: options.decode }),
    });
    // Not awaited when the caller stops early: its failure (an abort) must not be an unhandled rejection.
    page.catch(() => undefined);
    return page;
  };
  let next = request(undefined);
  try {
    for (;;) {
      const page = await next;
      const token = page.metadata?.continue || undefined;
      if (token === undefined) {
        yield page;
        return;
      }
      next = request(token);
      yield page;
    }
  } finally {
    stop.abort();
  }
}

/** What listMetadata keeps of an object's metadata (listedShape). */
export type ListedMetadata = Pick<
  IObjectMeta,
  'name' | 'generateName' | 'namespace' | 'labels' | 'ownerReferences' | 'resourceVersion'
>;

/** An object as listMetadata yields it: its metadata, as much as listedShape keeps. */
export interface ListedObject {
  metadata: ListedMetadata;
}

// What the lists' readers use of an item (the sync: controllers/sync/ and sharding/keys.ts; the cleanup:
// controllers/controllerring/cleanup.ts; kubectl-rings describe and the demo): its name and namespace to address
// it and to tell its scope, generateName and the controller owner for its hash key, its labels for its shard,
// and its resourceVersion for the sync's patches' precondition. Nothing reads uid, deletionTimestamp,
// managedFields or annotations, which are most of a page of metadata (managedFields above all): a page is
// checked as JSON but only these are built, so that a sync of many objects makes little garbage.
export const listedShape: Shape = {
  members: {
    metadata: { members: { continue: scalar, resourceVersion: scalar } },
    items: {
      each: {
        members: {
          metadata: { members: { ...assignmentMetadata, resourceVersion: scalar } },
        },
      },
    },
  },
};

/** A page of `path`'s list, decoded as listedShape, or an error naming the path. */
function decodePage(path: string): (body: Buffer) => ListPage<ListedObject> {
  return (body) => {
    const picked = pick(body, listedShape);
    if ('error' in picked)
      throw new Error(`the list of ${path} answered a page that is not JSON: ${picked.error}`);
    return picked.value as ListPage<ListedObject>;
  };
}

/**
 * The objects' metadata of a list, page by page: a consistent list (no resourceVersion), which kube-apiserver
 * serves from its watch cache as well (ConsistentListFromCache: it asks etcd only for its current revision)
 * and, unlike resourceVersion=0, a page at a time (ListFromCacheSnapshot), so that memory stays bounded by the
 * page size. A continue token outlives no compaction of etcd (5 min): a list that takes longer fails with 410.
 * Each object holds only the metadata listedShape keeps.
 */
export async function* listMetadata(
  rest: RestClient,
  path: string,
  options: Omit<ListOptions, 'metadataOnly' | 'decode'> = {},
): AsyncGenerator<ListedObject> {
  for await (const page of listPages<ListedObject>(rest, path, {
    ...options,
    metadataOnly: true,
    decode: decodePage(path),
  })) {
    yield* page.items ?? [];
  }
}
