// The shard library for a controller that already exists on @kubernetes/client-node (docs/adapter.md): the
// author keeps their informers, work queue and reconcile; the adapter keeps the shard Lease and gives the
// three things that make the controller one shard of a ring (design.md, "Parts" and "Drain acknowledgement"):
// - `labelSelector`, for both the informer's list function and its watch: the informer holds only this
//   shard's objects (client-node's makeInformer puts the selector on the watch only);
// - `guard(resource, object)`, called first in each work item: acknowledges a drain in that work item (so the
//   shard never reconciles an object it handed over), says 'not-mine' for an object not labelled for this
//   shard or while the Lease is not certain (past its renew deadline, or lost), 'reconcile' otherwise;
// - `whenGone(resource, handler)` (and `isGone`), for the informer's 'delete' events: an object leaving this
//   shard's selection arrives as a deletion, carrying its previous state (the API server's watch cache sends
//   the last state that matched the selector), so the event alone cannot tell a move from a deletion. A read
//   of the object can: deleted when it is not found, or found with another uid (deleted and created anew).
// What the adapter does not do, unlike Shard: fence the author's own writes (they go through the author's
// client; a write the guard let pass runs even if the Lease is lost meanwhile), hand over a drained controlled
// object whose owner is not on this shard, and read a controlled object missing from the author's cache
// consistently (Shard's controlled()).
import { setTimeout as sleep } from 'node:timers/promises';
import type { KubeConfig } from '@kubernetes/client-node';
import { drainLabel, drainValue, shardLabel } from '../api/v1alpha1/index.ts';
import { objectPath } from '../runtime/discovery.ts';
import { FencedClient } from '../runtime/fence.ts';
import { objectKey } from '../runtime/informer.ts';
import type { Fence } from '../runtime/leader-election.ts';
import { createLogger, type Logger } from '../runtime/logger.ts';
import { Metrics } from '../runtime/metrics.ts';
import type { KubeObject, ObjectMeta } from '../runtime/object.ts';
import { isNotFound } from '../runtime/rest.ts';
import { HandedOver } from './handed-over.ts';
import { certain, handOver, type HandOverCache } from './hand-over.ts';
import { connectShard, type ShardConnection, type ShardIdentity } from './connection.ts';
import { shardMetrics } from './metrics.ts';
import { resolveResource, resourceName, type GroupResource } from './resource.ts';

export interface ShardAdapterOptions extends ShardIdentity {
  kubeConfig: KubeConfig;
  /** Default JSON lines at info on stdout. */
  logger?: Logger;
  /**
   * Where the Lease's and the shard's metrics are registered (the drains acknowledged, and the objects of the
   * caches given to countObjects); default a new Metrics (see ShardAdapter.metrics).
   */
  metrics?: Metrics;
}

/** What countObjects reads at each scrape: client-node's informer (its ObjectCache) fits. */
export interface ObjectCache {
  list(): readonly KubeObject[];
}

/** Objects of `resource` that the object given to guard() controls, from the author's cache of them. */
export interface ControlledObjects {
  resource: GroupResource;
  objects: readonly KubeObject[];
}

/** What a work item does with an object: reconcile it, or leave it (another shard's, or handed over now). */
export type Verdict = 'reconcile' | 'not-mine' | 'handed-over';

/** One period of holding the Lease. */
interface Term {
  fence: Fence;
  /** Writes the drain acknowledgements, fenced by the Lease. */
  client: FencedClient;
}

export class ShardAdapter {
  /** `<ring's shard label>=<this shard>`: give it to the informer's list function and to makeInformer. */
  readonly labelSelector: string;
  /**
   * Labels to put on objects of the ring that a reconcile creates and controls: they assign the object to this
   * shard at once instead of by the webhook's hash ring.
   */
  readonly shardLabels: Readonly<Record<string, string>>;
  /** The registry of leader_election_master_status and the shard's metrics: serve `metrics.registry`. */
  readonly metrics: Metrics;
  readonly #connection: ShardConnection;
  readonly #options: ShardAdapterOptions;
  readonly #ready = Promise.withResolvers<undefined>();
  readonly #lostHandlers: (() => void)[] = [];
  /** By `group/resource`: what this shard handed over that the author's cache may still show. */
  readonly #handedOver = new Map<string, HandedOver>();
  /** By resource (kubectl's name): the author's caches given to countObjects. */
  readonly #caches = new Map<string, ObjectCache>();
  #term: Term | undefined;
  #stopping = false;

  constructor(options: ShardAdapterOptions) {
    this.#options = options;
    this.labelSelector = `${shardLabel(options.ring)}=${options.name}`;
    this.shardLabels = { [shardLabel(options.ring)]: options.name };
    this.metrics = options.metrics ?? new Metrics();
    this.#connection = connectShard({
      ...options,
      logger: options.logger ?? createLogger({ level: 'info' }),
      metrics: this.metrics,
    });
    shardMetrics(this.metrics).countObjects(options.ring, () => this.#objectCounts());
    this.#ready.promise.catch(() => undefined);
  }

  /**
   * Reports controller_rings_shard_objects for `resource` from `cache` (your informer) at each scrape: the
   * objects in it labelled for this shard. The adapter never sees your cache otherwise; without this call
   * the resource has no such series.
   */
  countObjects(resource: GroupResource, cache: ObjectCache): void {
    this.#caches.set(resourceName(resource), cache);
    this.#drainCounter(resource);
  }

  *#objectCounts(): Iterable<readonly [string, number]> {
    for (const [resource, cache] of this.#caches) {
      let count = 0;
      for (const object of cache.list()) if (this.#mine(object.metadata ?? {})) count++;
      yield [resource, count];
    }
  }

  /** Counts handovers of `resource`'s objects; its series exists from the first call. */
  #drainCounter(resource: GroupResource): () => void {
    return shardMetrics(this.metrics).drainsAcknowledged(this.#options.ring, resourceName(resource));
  }

  /**
   * Called when the Lease is lost (taken by the sharder or not renewed in time): the guard says 'not-mine'
   * from then on. Stop the controller (e.g. exit): its objects are being given to other shards.
   */
  onLost(handler: () => void): void {
    this.#lostHandlers.push(handler);
  }

  /** Joins the ring: resolves once the Lease is held. Start the informers after it. */
  async start(): Promise<void> {
    void this.#connection.elector.run((signal, fence) => this.#hold(signal, fence));
    await this.#ready.promise;
  }

  /**
   * Leaves the ring: releases the Lease; the guard says 'not-mine' from then on. A reconcile in flight is not
   * waited for: stop the work queue first where its writes must not outlive the Lease.
   */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#ready.reject(new Error('the shard stopped'));
    await this.#connection.elector.stop();
    this.#connection.rest.close();
  }

  /**
   * Call first in each work item, with the object from the informer's cache, and the objects it controls if
   * they are objects of the ring too (from their informers': a drain hands them over first, before the object,
   * as Shard does; for a chain of controllers, every level, the deepest first: they are handed over in the
   * order given). 'reconcile': go on, at once.
   * 'not-mine' and 'handed-over': do nothing with the object, it is no longer this shard's (it was not
   * deleted). Rejects when a drain acknowledgement failed; an ExpectedError when the object changed meanwhile:
   * retry the work item as after a failed reconcile.
   */
  async guard(
    resource: GroupResource,
    object: KubeObject,
    controlled: readonly ControlledObjects[] = [],
  ): Promise<Verdict> {
    const term = this.#term;
    const key = objectKey(object);
    const logger = this.#connection.logger.child({ object: key });
    if (term === undefined || !certain(term.fence, logger)) return 'not-mine';
    const metadata = object.metadata ?? {};
    const cache = await this.#handOverCache(resource, key, metadata.resourceVersion);
    if (cache.handedOver.has(key)) return 'handed-over';
    if (!this.#mine(metadata)) return 'not-mine';
    if (metadata.labels?.[drainLabel(this.#options.ring)] === drainValue) {
      const shard = { ring: this.#options.ring, name: this.#options.name, ...term };
      // The controlled objects first: they reach the next shard no later than their owner (as Shard does).
      for (const { resource: controlledResource, objects } of controlled) {
        for (const child of objects) {
          const childKey = objectKey(child);
          const version = child.metadata?.resourceVersion;
          const childCache = await this.#handOverCache(controlledResource, childKey, version);
          if (childCache.handedOver.has(childKey) || !this.#mine(child.metadata ?? {})) continue;
          const childLogger = logger.child({ object: childKey, owner: key });
          if (!(await handOver(shard, childCache, child.metadata ?? {}, childLogger))) return 'not-mine';
        }
      }
      return (await handOver(shard, cache, metadata, logger)) ? 'handed-over' : 'not-mine';
    }
    // Checked again after the awaits above: a shard paused past its renew deadline starts no reconcile.
    return certain(term.fence, logger) ? 'reconcile' : 'not-mine';
  }

  #mine(metadata: ObjectMeta): boolean {
    return metadata.labels?.[shardLabel(this.#options.ring)] === this.#options.name;
  }

  /** What handing over `key` (at `version` in the author's cache) needs; forgets a handover it came back from. */
  async #handOverCache(
    resource: GroupResource,
    key: string,
    version: string | undefined,
  ): Promise<HandOverCache> {
    const cache: HandOverCache = {
      info: await resolveResource(this.#connection.discovery, resource),
      handedOver: this.#handedOverOf(resource),
      cachedVersion: () => version,
      acknowledged: this.#drainCounter(resource),
    };
    // A version after the handover means the object came back (the webhook or the sync gave it back).
    cache.handedOver.observe('updated', key, version);
    return cache;
  }

  /**
   * For an informer 'delete' event of `resource`: whether the object was deleted, rather than moved off this
   * shard (then it still exists, with the same uid). Reads the object; rejects when the read fails.
   */
  async isGone(resource: GroupResource, object: KubeObject): Promise<boolean> {
    const { name, namespace, uid } = object.metadata ?? {};
    const info = await resolveResource(this.#connection.discovery, resource);
    const path = objectPath(info, namespace, name ?? '');
    try {
      const found = await this.#connection.rest.request<KubeObject>({ path });
      return found.metadata?.uid !== uid;
    } catch (error) {
      if (isNotFound(error)) return true;
      throw error;
    }
  }

  /**
   * Wraps an informer 'delete' handler: calls `handler` only for an object that was deleted, not for one that
   * moved off this shard (see isGone), a moment after the event. A failed read is retried every second.
   */
  whenGone<T extends KubeObject>(resource: GroupResource, handler: (object: T) => void): (object: T) => void {
    return (object) => {
      void this.#untilTold(resource, object).then((gone) => {
        if (gone) handler(object);
      });
    };
  }

  /** isGone, retried until it answers; false once the adapter stops (a stopped shard handles nothing). */
  async #untilTold(resource: GroupResource, object: KubeObject): Promise<boolean> {
    for (;;) {
      try {
        return await this.isGone(resource, object);
      } catch (error) {
        if (this.#stopping) return false;
        this.#connection.logger.warn(
          { err: error, object: objectKey(object) },
          'could not tell whether the object was deleted or moved: retrying',
        );
        await sleep(1000);
      }
    }
  }

  #handedOverOf(resource: GroupResource): HandedOver {
    const id = `${resource.group}/${resource.resource}`;
    const handedOver = this.#handedOver.get(id) ?? new HandedOver();
    this.#handedOver.set(id, handedOver);
    return handedOver;
  }

  /** While the Lease is held: the guard may say 'reconcile'. */
  async #hold(signal: AbortSignal, fence: Fence): Promise<void> {
    const term: Term = {
      fence,
      client: new FencedClient(this.#options.kubeConfig, this.#connection.userAgent, fence),
    };
    this.#term = term;
    this.#connection.logger.info('joined the ring');
    this.#ready.resolve(undefined);
    try {
      if (!signal.aborted) {
        await new Promise((resolve) => {
          signal.addEventListener('abort', resolve, { once: true });
        });
      }
    } finally {
      this.#term = undefined;
      term.client.close();
      if (!this.#stopping) {
        this.#connection.logger.warn('lost the shard lease');
        for (const handler of this.#lostHandlers) handler();
      }
    }
  }
}
