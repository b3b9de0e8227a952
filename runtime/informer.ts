// A supervised list+watch cache, client-go's reflector and store in one. client-node's makeInformer stops for
// good on any error but 410 Gone and watch timeouts (stack-notes.md); this one lists, watches, re-watches and
// relists until it is stopped, whatever the API server does meanwhile (restarts, 5xx, 403, failing lists).
import { setTimeout as sleep } from 'node:timers/promises';
import type { IStatus } from '@kubernetes-models/apimachinery/apis/meta/v1/Status';
import type { Logger } from './logger.ts';
import type { KubeObject } from './object.ts';
import { exponentialBackoff } from './rate-limiter.ts';
import {
  ApiError,
  isGone,
  metadataAccept,
  metadataListAccept,
  type Query,
  type RestClient,
  type WatchEvent,
} from './rest.ts';

export interface InformerOptions {
  /** Collection path, e.g. '/apis/coordination.k8s.io/v1/leases' (all namespaces) or '/api/v1/namespaces/x/configmaps'. */
  path: string;
  labelSelector?: string;
  fieldSelector?: string;
  /** List and watch PartialObjectMetadata only (Accept header as=PartialObjectMetadataList / PartialObjectMetadata). */
  metadataOnly?: boolean;
  /** Objects per list request (limit/continue). Default 500. */
  pageSize?: number;
  /** Each watch asks the server to end it after a random time between this and twice this. Default 300. */
  watchTimeoutSeconds?: number;
  logger: Logger;
}

export interface InformerEvent<T> {
  type: 'added' | 'updated' | 'deleted';
  /** For 'deleted', the last state the informer knew. */
  object: T;
  /** For 'updated', the state before. */
  previous?: T;
}

/** The store key of an object: 'namespace/name', or 'name' for cluster-scoped objects. */
export function objectKey(object: { metadata?: { namespace?: string; name?: string } }): string {
  const { namespace, name = '' } = object.metadata ?? {};
  return namespace ? `${namespace}/${name}` : name;
}

interface List<T> {
  apiVersion?: string;
  kind?: string;
  metadata?: { resourceVersion?: string; continue?: string };
  items?: T[];
}

const backoffKey = 'informer';
// Past the watch's own timeout the server should have ended it; a connection that died without a reset (a
// vanished peer) would otherwise keep the informer waiting for events forever.
const watchGraceMs = 30_000;

/**
 * Keeps the objects at `options.path` that match the selectors, and tells handlers what changed. Events come
 * after the store has changed, so handlers that look objects up see the new state. An informer runs once:
 * start() after stop() does nothing.
 */
export class Informer<T extends KubeObject> {
  readonly #rest: RestClient;
  readonly #options: InformerOptions;
  readonly #logger: Logger;
  readonly #store = new Map<string, T>();
  readonly #handlers: ((event: InformerEvent<T>) => void)[] = [];
  readonly #stopping = new AbortController();
  readonly #synced = Promise.withResolvers<undefined>();
  // Consecutive failures, reset by any event a watch delivers. Not by a successful list: a server that answers
  // lists but fails every watch must still be backed off from.
  readonly #backoff = exponentialBackoff({ baseMs: 200, maxMs: 30_000 });
  #hasSynced = false;
  #resourceVersion = '';
  #loop: Promise<void> | undefined;

  constructor(rest: RestClient, options: InformerOptions) {
    this.#rest = rest;
    this.#options = options;
    this.#logger = options.logger.child({ informer: options.path });
    // Rejected when stopped before the first list; waiters see that, nobody else has to.
    this.#synced.promise.catch(() => undefined);
  }

  /** Handlers should only enqueue keys; one that throws is logged, never breaks the informer. */
  onEvent(handler: (event: InformerEvent<T>) => void): void {
    this.#handlers.push(handler);
  }

  /** Runs in the background until stop(). */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Resolves after the first complete list; rejects when `signal` aborts or the informer stops before. */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (signal === undefined) return this.#synced.promise;
    return new Promise((resolve, reject) => {
      const abort = (): void => {
        reject(signal.reason as Error);
      };
      if (signal.aborted) {
        abort();
        return;
      }
      signal.addEventListener('abort', abort, { once: true });
      this.#synced.promise
        .then(resolve, reject)
        .finally(() => {
          signal.removeEventListener('abort', abort);
        })
        .catch(() => undefined);
    });
  }

  get hasSynced(): boolean {
    return this.#hasSynced;
  }

  get(key: string): T | undefined {
    return this.#store.get(key);
  }

  list(): T[] {
    return [...this.#store.values()];
  }

  /** How many objects the store holds: without list()'s copy, for metrics read at each scrape. */
  get size(): number {
    return this.#store.size;
  }

  /** Ends the watch; resolves when the loop has ended. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#synced.reject(new Error(`the informer for ${this.#options.path} stopped before it synced`));
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#stopping.signal;
    let relist = true;
    const stopped = (): boolean => signal.aborted;
    while (!stopped()) {
      let listed = false;
      try {
        if (relist) {
          await this.#list(signal);
          relist = false;
          listed = true;
        }
        await this.#watch(signal);
      } catch (error) {
        if (stopped()) break;
        const failed = relist ? 'list failed' : 'watch failed';
        if (isGone(error) && !relist) {
          relist = true;
          this.#logger.info({ err: error }, 'watch expired, relisting');
          // The server answers, so failures before (e.g. while it restarted) are over: relist at once. But a
          // watch right after a list should have worked: if the server keeps sending 410, back off below
          // rather than list in a tight loop.
          if (!listed) {
            this.#backoff.forget(backoffKey);
            continue;
          }
        }
        const delayMs = this.#backoff.when(backoffKey);
        this.#logger.warn({ err: error, retryInMs: delayMs }, failed);
        await sleep(delayMs, undefined, { signal }).catch(() => undefined);
      }
    }
  }

  #query(): Query {
    return { labelSelector: this.#options.labelSelector, fieldSelector: this.#options.fieldSelector };
  }

  async #list(signal: AbortSignal): Promise<void> {
    const { path, metadataOnly = false, pageSize = 500 } = this.#options;
    const items: T[] = [];
    let resourceVersion = '';
    let continueToken: string | undefined;
    do {
      const page = await this.#rest.request<List<T>>({
        path,
        query: { ...this.#query(), limit: pageSize, continue: continueToken },
        accept: metadataOnly ? metadataListAccept : undefined,
        signal,
      });
      items.push(...(page.items ?? []).map((item) => withTypeMeta(item, page)));
      // All pages of one list are one snapshot, at the first page's resourceVersion.
      resourceVersion ||= page.metadata?.resourceVersion ?? '';
      continueToken = page.metadata?.continue || undefined;
    } while (continueToken !== undefined);
    this.#replace(items, resourceVersion);
    this.#logger.debug({ objects: items.length, resourceVersion }, 'listed');
  }

  /** Replaces the store with a list's result and emits the differences, so handlers see a consistent picture. */
  #replace(items: T[], resourceVersion: string): void {
    const before = new Map(this.#store);
    this.#store.clear();
    for (const item of items) this.#store.set(objectKey(item), item);
    this.#resourceVersion = resourceVersion;
    for (const [key, object] of before) {
      if (!this.#store.has(key)) this.#emit({ type: 'deleted', object });
    }
    for (const [key, object] of this.#store) {
      const previous = before.get(key);
      if (previous === undefined) this.#emit({ type: 'added', object });
      else if (previous.metadata?.resourceVersion !== object.metadata?.resourceVersion) {
        this.#emit({ type: 'updated', object, previous });
      }
    }
    if (!this.#hasSynced) {
      this.#hasSynced = true;
      this.#synced.resolve(undefined);
    }
  }

  /** Watches from the last seen resourceVersion until the stream ends (resolves) or fails (rejects). */
  async #watch(signal: AbortSignal): Promise<void> {
    const { path, metadataOnly = false, watchTimeoutSeconds = 300 } = this.#options;
    // Randomised like client-go's reflector, so that many watchers do not all come back at once.
    const timeoutSeconds = Math.floor(watchTimeoutSeconds * (1 + Math.random()));
    const watch = new AbortController();
    const end = (): void => {
      watch.abort();
    };
    signal.addEventListener('abort', end, { once: true });
    const timer = setTimeout(end, timeoutSeconds * 1000 + watchGraceMs);
    let failure: ApiError | undefined;
    try {
      await this.#rest.watch<T>(
        path,
        {
          ...this.#query(),
          resourceVersion: this.#resourceVersion,
          allowWatchBookmarks: true,
          timeoutSeconds,
        },
        (event) => {
          if (failure !== undefined) return;
          if (event.type === 'ERROR') {
            failure = statusError(path, event.object);
            end();
            return;
          }
          this.#backoff.forget(backoffKey);
          this.#apply(event);
        },
        watch.signal,
        { accept: metadataOnly ? metadataAccept : undefined },
      );
    } finally {
      // Whichever way the watch ended, its connection must not stay open.
      end();
      clearTimeout(timer);
      signal.removeEventListener('abort', end);
    }
    if (failure !== undefined) throw failure;
  }

  #apply(event: WatchEvent<T>): void {
    const { object } = event;
    const resourceVersion = object.metadata?.resourceVersion;
    if (resourceVersion) this.#resourceVersion = resourceVersion;
    if (event.type === 'BOOKMARK') return;
    const key = objectKey(object);
    const previous = this.#store.get(key);
    if (event.type === 'DELETED') {
      this.#store.delete(key);
      this.#emit({ type: 'deleted', object });
      return;
    }
    this.#store.set(key, object);
    this.#emit(previous === undefined ? { type: 'added', object } : { type: 'updated', object, previous });
  }

  #emit(event: InformerEvent<T>): void {
    for (const handler of this.#handlers) {
      try {
        handler(event);
      } catch (error) {
        this.#logger.error({ err: error, object: objectKey(event.object) }, 'event handler failed');
      }
    }
  }
}

/**
 * List items come without apiVersion and kind, watch events with them: give list items the list's, so that
 * handlers see the same shape either way.
 */
function withTypeMeta<T>(item: T, list: List<T>): T {
  const typed = item as T & { apiVersion?: string; kind?: string };
  if (typed.kind !== undefined || list.kind?.endsWith('List') !== true) return item;
  return { apiVersion: list.apiVersion, kind: list.kind.slice(0, -'List'.length), ...item };
}

function statusError(path: string, status: IStatus): ApiError {
  const detail = status.message ?? 'watch error';
  return new ApiError(status.code ?? 0, detail, {
    reason: status.reason,
    body: status,
    method: 'WATCH',
    path,
  });
}
