// Webhook-free assignment (a ring's `spec.assignment: Watch`), for clusters whose API server cannot reach the
// sharder: on the leader, per resource of each such ring, a metadata-only informer of the objects without the
// ring's shard label; each object it holds is assigned, through a work queue with bounded concurrency, with the
// sync's move patch (the desired shard, the listed resourceVersion as a precondition). An object leaves the
// informer's store once labelled, so the store, and the sharder's cost, is bounded by the unassigned objects.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { chainKey, type LevelOwners, type ReadOwner } from '../../sharding/chain.ts';
import { hashKey, type KeySource } from '../../sharding/keys.ts';
import { ringSplit, SplitHashRings, type SplitHashRing } from '../../sharding/canary.ts';
import { ringMembership } from '../../sharding/membership.ts';
import { movePatch } from '../../sharding/patches.ts';
import { Controller } from '../../runtime/controller.ts';
import { collectionPath, objectPath, type Discovery, type ResourceInfo } from '../../runtime/discovery.ts';
import { Informer, objectKey } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/logger.ts';
import type { Metrics } from '../../runtime/metrics.ts';
import { ownerReader } from '../../runtime/owner-reader.ts';
import type { PartialObjectMetadata } from '../../runtime/pager.ts';
import { isConflict, isNotFound, metadataAccept, patchTypes, type RestClient } from '../../runtime/rest.ts';
import type { HandlerResult } from '../../runtime/workqueue.ts';
import { effectiveNamespaceSelector, inRingNamespaces } from '../controllerring/webhook-configuration.ts';
import {
  assignmentKey,
  assignsByWatch,
  keySource,
  parseAssignmentKey,
  resourceId,
  unassignedSelectors,
  watchedResources,
  watchSignature,
  type WatchedResource,
} from './watch-plan.ts';

export interface AssignmentWatchersOptions {
  ring(name: string): ControllerRing | undefined;
  leases(): Iterable<ILease>;
  namespace(name: string): Pick<INamespace, 'metadata'> | undefined;
  /** The watches: reads, not fenced. */
  watchClient: RestClient;
  /** The assignments' patches: fenced by leadership on the sharder (runtime/fence.ts). */
  rest: RestClient;
  discovery: Discovery;
  excludedNamespaces: readonly string[];
  /** Assignments running at once, over all rings. */
  concurrency: number;
  now(): Date;
  logger: Logger;
  metrics?: Metrics;
}

interface ResourceWatch {
  signature: string;
  info: ResourceInfo;
  source: KeySource;
  /** Below a chain's first level, the owners up to its root (sharding/chain.ts). */
  owners: LevelOwners;
  informer: Informer<PartialObjectMetadata>;
}

export class AssignmentWatchers {
  readonly #options: AssignmentWatchersOptions;
  readonly #controller: Controller;
  /** Per ring in watch mode, its watches by resource id. */
  readonly #watches = new Map<string, Map<string, ResourceWatch>>();
  /** Per ring, the hash ring of its last seen split of available shards (canary and stable). */
  readonly #hashRings = new SplitHashRings();
  readonly #readOwner: ReadOwner;
  #stopped = false;

  constructor(options: AssignmentWatchersOptions) {
    this.#options = options;
    this.#readOwner = ownerReader(options.watchClient, options.discovery);
    this.#controller = new Controller({
      name: 'assignment',
      reconciler: { reconcile: (key) => this.#assign(key) },
      concurrency: options.concurrency,
      logger: options.logger,
      ...(options.metrics === undefined ? {} : { metrics: options.metrics }),
    });
  }

  start(): void {
    this.#controller.start();
  }

  /** Stops every watch and the queue (once the assignments in flight have finished). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#watches.keys()].map((ring) => this.remove(ring)));
    await this.#controller.stop();
  }

  /**
   * Runs the watches `ring` needs: one per resource the API server serves while the ring assigns by watch,
   * none otherwise. A resource not served yet is watched once a later call finds it (the ring's reconcile is
   * retried while its status reports the resource missing). Called at every reconcile of the ring, which its
   * shard Leases' events and its own cause: when its available shards changed since the last call, the
   * objects it could not assign are tried again.
   */
  async update(ring: ControllerRing): Promise<void> {
    const name = ring.metadata?.name ?? '';
    if (this.#stopped || !assignsByWatch(ring)) {
      await this.remove(name);
      return;
    }
    const previous = this.#hashRings.signature(name);
    this.#hashRing(ring);
    if (previous !== undefined && previous !== this.#hashRings.signature(name)) this.#retry(name);
    const current = this.#watches.get(name) ?? new Map<string, ResourceWatch>();
    this.#watches.set(name, current);
    const wanted = new Set<string>();
    for (const watched of watchedResources(ring)) {
      const id = resourceId(watched);
      const info = await this.#options.discovery.resolve(watched.group, watched.resource);
      if (info === undefined) continue;
      wanted.add(id);
      const signature = watchSignature(watched, info.version, info.kind);
      const running = current.get(id);
      if (running?.signature === signature) continue;
      if (running !== undefined) await running.informer.stop();
      current.set(id, this.#watch(name, id, info, signature, watched));
    }
    for (const [id, watch] of current) {
      if (wanted.has(id)) continue;
      current.delete(id);
      await watch.informer.stop();
    }
  }

  /** Stops the watches of `ring` (gone, deleted, or back to the webhook). */
  async remove(ring: string): Promise<void> {
    const watches = this.#watches.get(ring);
    if (watches === undefined) return;
    this.#watches.delete(ring);
    this.#hashRings.delete(ring);
    await Promise.all([...watches.values()].map((watch) => watch.informer.stop()));
    this.#controller.logger.info({ ring }, 'stopped watching the unassigned objects');
  }

  /** The ring's available shards changed: the objects it could not assign may have a shard now. */
  #retry(ring: string): void {
    for (const [id, watch] of this.#watches.get(ring) ?? []) {
      for (const object of watch.informer.list()) {
        this.#controller.enqueue(assignmentKey(ring, id, objectKey(object)));
      }
    }
  }

  /** A namespace changed (its labels may select it now): its objects the watches hold are tried again. */
  namespaceChanged(namespace: string): void {
    for (const [ring, watches] of this.#watches) {
      for (const [id, watch] of watches) {
        for (const object of watch.informer.list()) {
          if (object.metadata.namespace === namespace) {
            this.#controller.enqueue(assignmentKey(ring, id, objectKey(object)));
          }
        }
      }
    }
  }

  /** The unassigned objects the watches of each ring in watch mode hold now. */
  *held(): Generator<[ring: string, objects: number]> {
    for (const [ring, watches] of this.#watches) {
      let objects = 0;
      for (const watch of watches.values()) objects += watch.informer.size;
      yield [ring, objects];
    }
  }

  #watch(
    ring: string,
    id: string,
    info: ResourceInfo,
    signature: string,
    watched: WatchedResource,
  ): ResourceWatch {
    const { labelSelector, fieldSelector } = unassignedSelectors(ring, this.#options.excludedNamespaces);
    const informer = new Informer<PartialObjectMetadata>(this.#options.watchClient, {
      path: collectionPath(info),
      labelSelector,
      // Cluster-scoped objects have no namespace to select by (and built-in ones reject the field).
      ...(info.namespaced && fieldSelector !== undefined ? { fieldSelector } : {}),
      metadataOnly: true,
      logger: this.#controller.logger.child({ ring }),
    });
    // A 'deleted' event is an object that got its shard label (or was deleted): nothing to do.
    informer.onEvent(({ type, object }) => {
      if (type !== 'deleted') this.#controller.enqueue(assignmentKey(ring, id, objectKey(object)));
    });
    informer.start();
    this.#controller.logger.info({ ring, resource: id }, 'watching the unassigned objects');
    return { signature, info, source: keySource(watched, info.kind), owners: watched.owners ?? [], informer };
  }

  /** Assigns one watched object to the shard its hash key falls on; an object changed meanwhile comes again. */
  async #assign(key: string): Promise<HandlerResult | undefined> {
    const { ring: name, resource, object: stored } = parseAssignmentKey(key);
    const watch = this.#watches.get(name)?.get(resource);
    const object = watch?.informer.get(stored);
    const ring = this.#options.ring(name);
    if (watch === undefined || object === undefined || ring === undefined || !assignsByWatch(ring)) {
      return undefined;
    }
    const { metadata } = object;
    if (metadata.labels?.[shardLabel(name)] !== undefined) return undefined;
    if (!this.#selected(ring, metadata.namespace)) return undefined;
    // Below a chain's first level the root's key, as the webhook and the sync find it (their reads too).
    const hash =
      watch.owners === 'ChainTooDeep'
        ? undefined
        : watch.owners.length === 0
          ? hashKey(metadata, watch.source)
          : await chainKey(metadata, watch.owners, this.#readOwner);
    // Controlled objects without a controller reference are not the ring's (design.md, "Hash key and ring");
    // a chain that cannot be followed is the sync's to count and log.
    if (hash === undefined || !('key' in hash)) return undefined;
    const shard = this.#hashRing(ring).shardFor(hash.key);
    // No shard available: retry() comes back to it when one is, and so does the sync.
    if (shard === undefined) return undefined;
    const path = objectPath(watch.info, metadata.namespace, metadata.name ?? '');
    try {
      await this.#options.rest.request({
        method: 'PATCH',
        path,
        contentType: patchTypes.merge,
        accept: metadataAccept,
        body: movePatch(name, shard, metadata.resourceVersion ?? ''),
        discardAnswer: true,
      });
    } catch (error) {
      // Changed since the watch saw it: its next event brings it back while it is still unassigned.
      if (isConflict(error) || isNotFound(error)) return undefined;
      throw error;
    }
    this.#controller.logger.debug({ ring: name, object: path, shard }, 'assigned');
    return undefined;
  }

  #selected(ring: ControllerRing, namespace: string | undefined): boolean {
    const selector = effectiveNamespaceSelector(ring, this.#options.excludedNamespaces);
    return inRingNamespaces(selector, namespace, (name) => this.#options.namespace(name)?.metadata?.labels);
  }

  /** The same split and hashing as the webhook's and the sync's, so that all three agree. */
  #hashRing(ring: ControllerRing): SplitHashRing {
    const { members } = ringMembership(this.#options.leases(), ring, this.#options.now());
    return this.#hashRings.of(ring.metadata?.name ?? '', ringSplit(members, ring));
  }
}
