// The shard library: what a controller author uses to make a controller one shard of a ring (design.md,
// "Parts" and "Drain acknowledgement"). A Shard keeps its Lease, watches only the objects labelled with its
// own name, acknowledges drains inside the serialized work item, and reconciles the rest. It acts only while
// its Lease is certain: each reconcile and drain acknowledgement first checks the Lease's fence (its last
// renewal's start plus the renew deadline still ahead), and reconciles write through a fenced client, so that a
// shard paused past its deadline does nothing more when it resumes, before the sharder takes its objects.
import type { KubeConfig } from '@kubernetes/client-node';
import { drainLabel, drainValue, shardLabel } from '../api/v1alpha1/index.ts';
import { Controller } from '../runtime/controller.ts';
import { collectionPath, objectPath, type ResourceInfo } from '../runtime/discovery.ts';
import { FencedClient } from '../runtime/fence.ts';
import { Informer, objectKey } from '../runtime/informer.ts';
import type { Fence } from '../runtime/leader-election.ts';
import { ExpectedError } from '../runtime/expected-error.ts';
import type { Logger } from '../runtime/logger.ts';
import { Metrics } from '../runtime/metrics.ts';
import type { KubeObject, ObjectMeta } from '../runtime/object.ts';
import { isNotFound, RestClient } from '../runtime/rest.ts';
import { TokenBucket } from '../runtime/rate-limiter.ts';
import type { HandlerResult } from '../runtime/workqueue.ts';
import { maxChainDepth, ownerChain } from '../sharding/chain.ts';
import { HandedOver } from './handed-over.ts';
import { certain, handOver, type HandOverCache } from './hand-over.ts';
import { shardMetrics } from './metrics.ts';
import { resolveResource, resourceName, type GroupResource } from './resource.ts';
import { connectShard, type ShardConnection, type ShardIdentity } from './connection.ts';
import { ThrottledClient, type ClientRateLimit } from './throttled-client.ts';

// For reconciles: throw it for a failure that is part of normal operation (logged at debug, retried).
export { ExpectedError } from '../runtime/expected-error.ts';

export type { KubeObject, ObjectMeta, OwnerReference } from '../runtime/object.ts';

export type { GroupResource } from './resource.ts';

/**
 * A resource whose objects the controller's objects control, directly or (with `owner`, another of its
 * controlledResources) through a chain of controllers, as the ring's controlledResources[].owner declares.
 */
export interface ControlledResource extends GroupResource {
  /** The resource whose objects control these; default the controller's own resource. */
  owner?: GroupResource;
}

export type { ClientRateLimit } from './throttled-client.ts';

/** What a reconcile may use: this shard's client, a logger naming ring, shard and object, and an abort signal. */
export interface ReconcileContext {
  /**
   * Fenced by the shard's Lease: a write is refused (a FenceError, runtime/fence.ts) once the Lease's renew
   * deadline has passed or the Lease is lost, and one in flight is aborted then. Reads always pass.
   */
  client: RestClient;
  logger: Logger;
  /** Aborts when the shard stops or loses its Lease: stop working on the object as soon as possible. */
  signal: AbortSignal;
  /**
   * Labels to put on controlled objects this reconcile creates: they assign the object to this shard, the
   * shard of its controller, at once. Without them the webhook assigns it by the hash ring, which during a
   * drain of the controller already names the next shard, before the controller has moved.
   */
  shardLabels: Readonly<Record<string, string>>;
  /**
   * A controlled object of this shard (same shard as its controller), from the cache. When the cache does not
   * have it, a consistent read decides: absent (undefined), here already (the object read), or controlled by
   * the object being reconciled but not on this shard yet (rejects with NotYetArrivedError: the reconcile is
   * retried, and the object's arrival enqueues it too). So "absent" is never an answer of a cache that lags.
   */
  controlled: (
    resource: GroupResource,
    namespace: string | undefined,
    name: string,
  ) => Promise<KubeObject | undefined>;
}

/**
 * controlled() found the object being reconciled controlling an object that is not on this shard yet: it is
 * on its way (handed over by the previous shard, moved by the sharder). Acting on it now could act on it
 * together with the shard that still holds it.
 */
export class NotYetArrivedError extends ExpectedError {
  constructor(what: string, shard: string | undefined) {
    const where = shard === undefined ? 'no shard yet' : `shard ${shard}`;
    super(`${what} is on ${where}, not yet on this one: reconciling again once it is here`);
    this.name = 'NotYetArrivedError';
  }
}

/** Receives every reconcile's start and end, e.g. for tracing or the end-to-end invariant checks. */
export interface ReconcileObserver {
  /** `resourceVersion` is the version of the object being reconciled. */
  started(object: string, resourceVersion: string | undefined): void;
  finished(object: string, error?: unknown): void;
}

export interface ReconcileResult {
  /** Reconcile the object again after this many milliseconds. */
  requeueAfter?: number;
}

export interface ShardedController<T extends KubeObject> {
  /** Names the controller in metrics and logs. */
  name: string;
  /** The ring resource this controller reconciles; the ring's ControllerRing must list it. */
  resource: GroupResource;
  /**
   * Resources whose objects this controller's objects control, at most 3 levels deep (with owner); their events
   * trigger the controller of their chain's root, and its drain hands over every level, the deepest first.
   */
  controlledResources?: ControlledResource[];
  /** Watch only this namespace; default all. */
  namespace?: string;
  /** Objects reconciled at once (each object by one worker at a time). Default 1. */
  concurrency?: number;
  /**
   * Brings the cluster in line with `object`; throwing retries it with backoff, logged at error once per object
   * (warn for a transient API failure), at debug for an ExpectedError.
   */
  reconcile(object: T, context: ReconcileContext): Promise<ReconcileResult | undefined> | Promise<void>;
  observer?: ReconcileObserver;
}

export interface ShardOptions extends ShardIdentity {
  kubeConfig: KubeConfig;
  logger: Logger;
  /**
   * Where the reconcile, queue, Lease and shard metrics are registered; default a new Metrics (see
   * Shard.metrics). Shards of different rings may share one.
   */
  metrics?: Metrics;
  /**
   * Limits the requests of reconciles and handovers (context.client) as client-go's QPS and Burst do; the
   * Lease and the watches are not limited. Default none.
   */
  clientRateLimit?: ClientRateLimit;
}

type AnyController = ShardedController<KubeObject>;

/** The cache of one of a controller's resources, and what this shard handed over that it may still show. */
interface Cache {
  info: ResourceInfo;
  informer: Informer<KubeObject>;
  handedOver: HandedOver;
  /** Counts a handover of one of its objects. */
  acknowledged: () => void;
}

/** The cache of one controlled resource, indexed by the key of each object's controller. */
interface ControlledCache extends Cache {
  byOwner: Map<string, Set<string>>;
  /** The cache of the owner's resource in its chain; undefined when the owner is the controller's resource. */
  owner: ControlledCache | undefined;
  /** `group/resource`, its key in Binding.controlled. */
  id: string;
}

/** One controller while the Lease is held: its resource, caches and logger. */
interface Binding {
  controller: AnyController;
  info: ResourceInfo;
  objects: Cache;
  /** By `group/resource`. */
  controlled: Map<string, ControlledCache>;
  logger: Logger;
  term: Term;
}

/** The informers and controllers of one period of holding the Lease. */
interface Term {
  informers: Informer<KubeObject>[];
  /** The informers by resource (kubectl's name): what controller_rings_shard_objects counts. */
  caches: Map<string, Informer<KubeObject>[]>;
  controllers: Controller[];
  stopped: AbortController;
  /** Whether the Lease is certain now: checked right before each reconcile and drain acknowledgement. */
  fence: Fence;
  /** Writes of reconciles and drain acknowledgements, fenced by the Lease. */
  client: FencedClient;
}

/** The store key of `object`'s controller if that is an object of `owner`'s resource. */
function controllerKey(object: KubeObject, owner: ResourceInfo): string | undefined {
  const reference = object.metadata?.ownerReferences?.find((candidate) => candidate.controller === true);
  if (reference === undefined || reference.kind !== owner.kind) return undefined;
  const group = reference.apiVersion.includes('/') ? reference.apiVersion.split('/')[0] : '';
  if (group !== owner.group) return undefined;
  return objectKey({ metadata: { namespace: object.metadata?.namespace, name: reference.name } });
}

/** Whether `owner` (of resource `info`) is `object`'s controller. */
function controlledBy(object: KubeObject, owner: KubeObject, info: ResourceInfo): boolean {
  const uid = object.metadata?.ownerReferences?.find((candidate) => candidate.controller === true)?.uid;
  return controllerKey(object, info) === objectKey(owner) && uid === owner.metadata?.uid;
}

/**
 * A work item for the objects below `owner`, the key of an object of `level`'s resource: a NUL cannot be in a
 * store key (namespace/name), so it never names a root.
 */
function ownerItem(level: ControlledCache, owner: string): string {
  return `${level.id}\u0000${owner}`;
}

function ownerItemOf(key: string): { level: string; owner: string } | undefined {
  const split = key.indexOf('\u0000');
  return split < 0 ? undefined : { level: key.slice(0, split), owner: key.slice(split + 1) };
}

/** A place in a chain: the key of an object of `level`'s resource, or of the root's when `level` is undefined. */
interface ChainPlace {
  level: ControlledCache | undefined;
  key: string;
}

/**
 * Climbs from `place` through the owners this shard's caches hold: the root's key (level undefined), or the
 * first owner on the way that is not here (or has no controller reference of its chain's owner resource).
 */
function climb(place: ChainPlace, root: ResourceInfo): ChainPlace {
  let { level, key } = place;
  while (level !== undefined) {
    const object = level.informer.get(key);
    const next = object === undefined ? undefined : controllerKey(object, level.owner?.info ?? root);
    if (next === undefined) return { level, key };
    key = next;
    level = level.owner;
  }
  return { level, key };
}

/**
 * Whether `object` of `cache`'s resource is below `root` (of resource `info`) in its chain, as far as this
 * shard's caches tell: an owner on the way that is not here counts as leading there, so that controlled()
 * never answers "absent" for an object on its way to this shard.
 */
function belongsTo(
  object: KubeObject,
  cache: ControlledCache,
  root: KubeObject,
  info: ResourceInfo,
): boolean {
  const level = cache.owner;
  if (level === undefined) return controlledBy(object, root, info);
  const key = controllerKey(object, level.info);
  if (key === undefined) return false;
  const owner = level.informer.get(key);
  if (owner === undefined) return true;
  return controlledBy(object, owner, level.info) && belongsTo(owner, level, root, info);
}

export class Shard {
  readonly metrics: Metrics;
  readonly #connection: ShardConnection;
  readonly #options: ShardOptions;
  readonly #controllers: AnyController[] = [];
  readonly #ready = Promise.withResolvers<undefined>();
  readonly #lostHandlers: (() => void)[] = [];
  readonly #bucket: TokenBucket | undefined;
  /** The controllers' resources and controlled resources, by kubectl's name: what the shard metrics count. */
  readonly #resources = new Set<string>();
  #term: Term | undefined;
  #stopping = false;

  constructor(options: ShardOptions) {
    this.#options = options;
    this.metrics = options.metrics ?? new Metrics();
    // Throws a RangeError for a limit that is no rate, before anything starts.
    this.#bucket = options.clientRateLimit && new TokenBucket(options.clientRateLimit);
    this.#connection = connectShard({ ...options, metrics: this.metrics });
    shardMetrics(this.metrics).countObjects(options.ring, () => this.#objectCounts());
    this.#ready.promise.catch(() => undefined);
  }

  /** Adds a controller; call before start(). */
  addController<T extends KubeObject>(controller: ShardedController<T>): void {
    this.#controllers.push(controller);
    for (const resource of [controller.resource, ...(controller.controlledResources ?? [])]) {
      this.#resources.add(resourceName(resource));
      // The series from the start, at 0.
      this.#acknowledged(resource);
    }
  }

  /**
   * The objects of each resource of the controllers in this term's caches (0 outside a term): the count of its
   * one cache, or of the objects in any of several (controllers watching one resource in other namespaces).
   */
  *#objectCounts(): Iterable<readonly [string, number]> {
    for (const resource of this.#resources) {
      const informers = this.#term?.caches.get(resource) ?? [];
      const [only] = informers;
      if (only === undefined || informers.length === 1) {
        yield [resource, only?.size ?? 0];
        continue;
      }
      yield [resource, new Set(informers.flatMap((informer) => informer.list().map(objectKey))).size];
    }
  }

  /** Called when the Lease is lost (taken by the sharder or not renewed in time): reconciling has stopped. */
  onLost(handler: () => void): void {
    this.#lostHandlers.push(handler);
  }

  /** Joins the ring: resolves once the Lease is held and the caches are synced. */
  async start(): Promise<void> {
    void this.#connection.elector.run((signal, fence) => this.#hold(signal, fence));
    try {
      await this.#ready.promise;
    } catch (error) {
      // A shard that cannot run its controllers must not keep a Lease: objects would be assigned to it in vain.
      await this.stop();
      throw error;
    }
  }

  /** Leaves the ring gracefully: stops reconciling (in-flight reconciles finish), then releases the Lease. */
  async stop(): Promise<void> {
    this.#stopping = true;
    this.#ready.reject(new Error('the shard stopped'));
    await this.#connection.elector.stop();
    this.#connection.rest.close();
  }

  /** While the Lease is held: caches restricted to this shard's objects, and the controllers. */
  async #hold(signal: AbortSignal, fence: Fence): Promise<void> {
    const term: Term = {
      informers: [],
      caches: new Map(),
      controllers: [],
      stopped: new AbortController(),
      fence,
      client: this.#client(fence),
    };
    let failed = false;
    this.#term = term;
    try {
      for (const controller of this.#controllers) await this.#startController(controller, term);
      await Promise.all(term.informers.map((informer) => informer.waitForSync(signal)));
      this.#connection.logger.info('joined the ring');
      this.#ready.resolve(undefined);
      if (!signal.aborted) {
        await new Promise((resolve) => {
          signal.addEventListener('abort', resolve, { once: true });
        });
      }
    } catch (error) {
      // Typically a resource the API server does not serve: start() reports it and leaves the ring.
      failed = !signal.aborted;
      if (failed) this.#ready.reject(error);
    } finally {
      term.stopped.abort();
      await Promise.all(term.controllers.map((controller) => controller.stop()));
      await Promise.all(term.informers.map((informer) => informer.stop()));
      this.#term = undefined;
      term.client.close();
      if (!this.#stopping && !failed) {
        this.#connection.logger.warn('lost the shard lease: reconciling stopped');
        for (const handler of this.#lostHandlers) handler();
      }
    }
  }

  /** The client of this term's reconciles and handovers: fenced by the Lease, rate-limited if configured. */
  #client(fence: Fence): FencedClient {
    const { kubeConfig } = this.#options;
    const { userAgent } = this.#connection;
    return this.#bucket === undefined
      ? new FencedClient(kubeConfig, userAgent, fence)
      : new ThrottledClient(kubeConfig, userAgent, fence, this.#bucket);
  }

  #informer(info: ResourceInfo, namespace: string | undefined, term: Term): Informer<KubeObject> {
    const path = collectionPath(info, info.namespaced ? namespace : undefined);
    const informer = new Informer<KubeObject>(this.#connection.rest, {
      path,
      // The cache holds only this shard's objects: ~1/N of the ring.
      labelSelector: `${shardLabel(this.#options.ring)}=${this.#options.name}`,
      logger: this.#connection.logger,
    });
    term.informers.push(informer);
    const name = resourceName(info);
    term.caches.set(name, [...(term.caches.get(name) ?? []), informer]);
    return informer;
  }

  /** Counts handovers of `resource`'s objects. */
  #acknowledged(resource: GroupResource): () => void {
    return shardMetrics(this.metrics).drainsAcknowledged(this.#options.ring, resourceName(resource));
  }

  async #startController(controller: AnyController, term: Term): Promise<void> {
    const info = await resolveResource(this.#connection.discovery, controller.resource);
    const objects: Cache = {
      info,
      informer: this.#informer(info, controller.namespace, term),
      handedOver: new HandedOver(),
      acknowledged: this.#acknowledged(info),
    };
    const controlled = new Map<string, ControlledCache>();
    for (const resource of controller.controlledResources ?? []) {
      const controlledInfo = await resolveResource(this.#connection.discovery, resource);
      controlled.set(`${resource.group}/${resource.resource}`, {
        info: controlledInfo,
        informer: this.#informer(controlledInfo, controller.namespace, term),
        handedOver: new HandedOver(),
        acknowledged: this.#acknowledged(controlledInfo),
        byOwner: new Map(),
        owner: undefined,
        id: `${resource.group}/${resource.resource}`,
      });
    }
    for (const { group, resource, owner } of controller.controlledResources ?? []) {
      if (owner === undefined) continue;
      const ownerCache = controlled.get(`${owner.group}/${owner.resource}`);
      if (ownerCache === undefined)
        throw new Error(
          `${resourceName({ group, resource })}'s owner ${resourceName(owner)} is not one of the controller's controlledResources`,
        );
      const cache = controlled.get(`${group}/${resource}`);
      if (cache !== undefined) cache.owner = ownerCache;
    }
    const chains = { controlledResources: controller.controlledResources ?? [] };
    if (chains.controlledResources.some((level) => ownerChain(chains, level) === 'ChainTooDeep'))
      throw new Error(
        `the controller's chains of controlledResources must be at most ${String(maxChainDepth)} levels deep, without loops`,
      );
    const runner = new Controller({
      name: controller.name,
      reconciler: { reconcile: (key) => this.#reconcile(binding, key) },
      concurrency: controller.concurrency ?? 1,
      // The Controller binds `controller`; its logger is the reconciles' too.
      logger: this.#connection.logger,
      metrics: this.metrics,
    });
    const binding: Binding = { controller, info, objects, controlled, logger: runner.logger, term };
    objects.informer.onEvent(({ type, object }) => {
      const key = objectKey(object);
      objects.handedOver.observe(type, key, object.metadata?.resourceVersion);
      // An object leaving this shard's selection arrives as a deletion: it is no longer ours, nothing to do.
      if (type !== 'deleted') runner.enqueue(key);
    });
    for (const cache of controlled.values()) {
      cache.informer.onEvent(({ type, object }) => {
        const key = objectKey(object);
        cache.handedOver.observe(type, key, object.metadata?.resourceVersion);
        const owner = controllerKey(object, cache.owner?.info ?? info);
        if (owner === undefined) return;
        const owned = cache.byOwner.get(owner) ?? new Set<string>();
        if (type === 'deleted') owned.delete(key);
        else owned.add(key);
        if (owned.size === 0) cache.byOwner.delete(owner);
        else cache.byOwner.set(owner, owned);
        // The work item is the chain's root's: found through the owners this shard holds. An owner not here yet
        // enqueues the root when it arrives, and the root's work item finds this object below it then.
        const up = climb({ level: cache.owner, key: owner }, info);
        if (up.level === undefined) runner.enqueue(up.key);
        else if (object.metadata?.labels?.[drainLabel(this.#options.ring)] === drainValue)
          // Drained while an owner above it is not here: handed over in a work item of that owner's (#reconcile).
          runner.enqueue(ownerItem(up.level, up.key));
      });
    }
    for (const cache of [objects, ...controlled.values()]) cache.informer.start();
    runner.start();
    term.controllers.push(runner);
  }

  /**
   * One work item: hand over, or reconcile. Never both, and never for an object not ours. A drained object is
   * handed over together with its controlled objects, those first: they reach the next shard no later than
   * their owner, which therefore finds them there (design.md, "Drain acknowledgement"). A controlled object
   * whose controller is not on this shard is handed over in its controller's work item once drained.
   */
  async #reconcile(binding: Binding, key: string): Promise<HandlerResult | undefined> {
    const { controller, objects, term } = binding;
    if (term.stopped.signal.aborted) return undefined;
    const item = ownerItemOf(key);
    if (item !== undefined) {
      // Objects below an owner in a chain that is not on this shard, so neither is the root's work item: the
      // drained ones go, the deepest first. Owners that arrived meanwhile are climbed; a root that is here
      // holds them until its own drain (its work item, which their events enqueue).
      const level = binding.controlled.get(item.level);
      if (level === undefined) return undefined;
      const up = climb({ level, key: item.owner }, binding.info);
      if (up.level === undefined && objects.informer.get(up.key) !== undefined) return undefined;
      await this.#handOverControlled(binding, up.key, 'drained', up.level);
      return undefined;
    }
    const { ring, name } = this.#options;
    const object = objects.handedOver.has(key) ? undefined : objects.informer.get(key);
    const labels = object?.metadata?.labels ?? {};
    // Gone from the cache (deleted, or moved to another shard) or handed over: not ours to act on.
    if (object?.metadata === undefined || labels[shardLabel(ring)] !== name) {
      await this.#handOverControlled(binding, key, 'drained');
      return undefined;
    }
    const logger = binding.logger.child({ object: key });
    if (labels[drainLabel(ring)] === drainValue) {
      if (await this.#handOverControlled(binding, key, 'all'))
        await this.#handOver(term, objects, object.metadata, logger);
      return undefined;
    }
    const context: ReconcileContext = {
      client: term.client,
      logger,
      signal: term.stopped.signal,
      shardLabels: { [shardLabel(ring)]: name },
      controlled: (resource, namespace, objectName) =>
        this.#controlled(binding, object, resource, namespace, objectName),
    };
    // No await from this check to the reconcile's start: a shard paused past its renew deadline starts nothing
    // when it resumes (design.md, "What the sharder must not do"). Its Lease is being lost: no retry either.
    if (!certain(term.fence, logger)) return undefined;
    controller.observer?.started(key, object.metadata.resourceVersion);
    try {
      const result = await controller.reconcile(object, context);
      controller.observer?.finished(key);
      return result ?? undefined;
    } catch (error) {
      controller.observer?.finished(key, error);
      throw error;
    }
  }

  /** context.controlled(): from the cache, or, when the cache does not have it, from a consistent read. */
  async #controlled(
    binding: Binding,
    owner: KubeObject,
    resource: GroupResource,
    namespace: string | undefined,
    name: string,
  ): Promise<KubeObject | undefined> {
    const cache = binding.controlled.get(`${resource.group}/${resource.resource}`);
    if (cache === undefined) return undefined;
    const key = objectKey({ metadata: { namespace, name } });
    const cached = cache.handedOver.has(key) ? undefined : cache.informer.get(key);
    if (cached !== undefined) return cached;
    // The cache may lag: an object that arrived with its owner can be in flight on the other watch. A GET
    // without resourceVersion reads the current state.
    const path = objectPath(cache.info, namespace, name);
    let found: KubeObject;
    try {
      found = await binding.term.client.request<KubeObject>({ path, signal: binding.term.stopped.signal });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    const shard = found.metadata?.labels?.[shardLabel(this.#options.ring)];
    binding.logger.debug(
      { object: key, assignedTo: shard ?? 'none' },
      'read a controlled object missing from the cache',
    );
    if (shard === this.#options.name) return found;
    if (belongsTo(found, cache, owner, binding.info))
      throw new NotYetArrivedError(`${cache.info.resource} ${key}`, shard);
    return undefined;
  }

  /**
   * Hands over the controlled objects below `owner` (an object of `level`'s resource: the controller's own when
   * undefined) that this shard holds, every level of its chains, the deepest first: all of them (the root is
   * being handed over), or those the sharder drains (their root is not here). False when the Lease stopped
   * being certain.
   */
  async #handOverControlled(
    binding: Binding,
    owner: string,
    which: 'all' | 'drained',
    level?: ControlledCache,
  ): Promise<boolean> {
    const drain = drainLabel(this.#options.ring);
    for (const cache of binding.controlled.values()) {
      if (cache.owner !== level) continue;
      for (const key of [...(cache.byOwner.get(owner) ?? [])]) {
        // What the object controls goes first, whether or not the object itself goes now.
        if (!(await this.#handOverControlled(binding, key, which, cache))) return false;
        const metadata = cache.handedOver.has(key) ? undefined : cache.informer.get(key)?.metadata;
        if (metadata === undefined) continue;
        if (which === 'drained' && metadata.labels?.[drain] !== drainValue) continue;
        const logger = binding.logger.child({ object: key, owner });
        if (!(await this.#handOver(binding.term, cache, metadata, logger))) return false;
      }
    }
    return true;
  }

  /** Hands over one object of `cache` (see handOver). */
  #handOver(term: Term, cache: Cache, metadata: ObjectMeta, logger: Logger): Promise<boolean> {
    const shard = {
      ring: this.#options.ring,
      name: this.#options.name,
      fence: term.fence,
      client: term.client,
    };
    const view: HandOverCache = {
      info: cache.info,
      handedOver: cache.handedOver,
      cachedVersion: (key) => cache.informer.get(key)?.metadata?.resourceVersion,
      acknowledged: cache.acknowledged,
    };
    return handOver(shard, view, metadata, logger);
  }
}
