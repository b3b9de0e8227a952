// The sync controller (design.md, "Assignment and movement", 2): on membership changes and periodically it
// lists each ring resource as metadata only, page by page (runtime/pager.ts: from the API server's watch
// cache), and moves or drains the objects whose shard is not the desired one. It never watches or caches the
// sharded objects, and holds nothing per object: its memory does not grow with the ring.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { INamespace } from 'kubernetes-models/v1/Namespace';
import { shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { syncAction } from '../../sharding/assignment.ts';
import { ringSplit, splitSignature, SplitHashRing, type Split } from '../../sharding/canary.ts';
import {
  chainKey,
  chainTooDeep,
  chainLevel,
  ownerChain,
  type ChainKeyResult,
  type LevelOwners,
  type OwnerMetadata,
  type ReadOwner,
} from '../../sharding/chain.ts';
import { hashKey, type KeySource } from '../../sharding/keys.ts';
import { resourceName } from '../../sharding/resource-name.ts';
import type { LabelSelector } from '../../sharding/label-selector.ts';
import { ringMembership } from '../../sharding/membership.ts';
import { drainPatch, movePatch } from '../../sharding/patches.ts';
import { forEachConcurrently } from '../../runtime/concurrency.ts';
import { collectionPath, objectPath, type Discovery, type ResourceInfo } from '../../runtime/discovery.ts';
import type { Logger } from '../../runtime/logger.ts';
import { ownerReader } from '../../runtime/owner-reader.ts';
import { listMetadata, type ListedObject, type PartialObjectMetadata } from '../../runtime/pager.ts';
import { isConflict, isNotFound, metadataAccept, patchTypes, type RestClient } from '../../runtime/rest.ts';
import type { HandlerResult } from '../../runtime/workqueue.ts';
import { effectiveNamespaceSelector, inRingNamespaces } from '../controllerring/webhook-configuration.ts';

export interface SyncReconcilerOptions {
  ring(name: string): ControllerRing | undefined;
  leases(): Iterable<ILease>;
  namespace(name: string): Pick<INamespace, 'metadata'> | undefined;
  /** Lists and patches; on the sharder fenced by leadership (runtime/fence.ts). */
  rest: RestClient;
  discovery: Discovery;
  excludedNamespaces: readonly string[];
  /** Patches running at once per ring. */
  concurrency: number;
  syncPeriodMs: number;
  /** How soon to look again when objects kept conflicting, or their shard came back during the sync. */
  retryAfterMs: number;
  pageSize?: number;
  now(): Date;
  logger: Logger;
  /** Told of each sync and each object's move or drain: the metrics and the ring's events. */
  observers?: readonly SyncObserver[];
}

/** What one sync of a ring did, told when it ends (also when it failed part way). */
export interface SyncReport {
  ring: string;
  /** The available shards it assigned objects to. */
  shards: readonly string[];
  /**
   * Those of the ring's previous sync while this replica leads; undefined for its first, and after a sync that
   * failed (the ring's membership is then unknown to have been carried out).
   */
  previousShards: readonly string[] | undefined;
  /** Objects of the ring (in its namespaces, with a key) it looked at. */
  examined: number;
  moved: number;
  drained: number;
  /** Objects it left without a shard label: the ring had no available shard for them. */
  unassigned: number;
  /**
   * Objects below the first level of a chain of controllers whose root it could not find (an owner missing or
   * of another group than the chain declares): not assigned, and each resource's first reason logged at warn.
   */
  unresolved: number;
  /** Those unresolved objects by resource, in the order synced: the ring's ChainsResolved condition. */
  unresolvedChains: readonly UnresolvedChains[];
  /** The ring's metadata.generation the sync worked from. */
  generation: number | undefined;
  /** Objects to look at again soon: they kept conflicting, or their shard came back. */
  pending: number;
  seconds: number;
  /** Why it ended early; undefined when it went through. */
  error?: unknown;
}

/** The objects of one resource whose chain of controllers the sync could not follow to its root. */
export interface UnresolvedChains {
  /** kubectl's form: `pods`, `replicasets.apps`. */
  resource: string;
  count: number;
  /** The first one's (in list order): its namespace/name, and why (sharding/chain.ts). */
  object: string;
  reason: string;
  message: string;
}

export interface SyncObserver {
  /** A sync of `ring` begins, assigning to `shards`; `previousShards` as in SyncReport. */
  started?(ring: string, shards: readonly string[], previousShards: readonly string[] | undefined): void;
  /** An object was moved or drained (action) in `ring`. */
  acted?(ring: string, action: 'move' | 'drain'): void;
  finished?(report: SyncReport): void;
}

/**
 * Owners read in one resource's sync: a chain's objects share their owners (a ReplicaSet's Pods), so most reads
 * are one. Only uid and controller reference are kept, of at most this many owners: the sync's memory does not
 * grow with the ring (invariant 5).
 */
const rememberedOwners = 1024;

/** `read`, remembering its answers (and reads in flight) for the resource's sync, up to rememberedOwners. */
function memoized(read: ReadOwner): ReadOwner {
  const answers = new Map<string, Promise<OwnerMetadata | undefined>>();
  return (owner, namespace, name) => {
    const key = `${owner.group}/${owner.resource}/${namespace ?? ''}/${name}`;
    const known = answers.get(key);
    if (known !== undefined) return known;
    if (answers.size >= rememberedOwners) answers.clear();
    const answer = read(owner, namespace, name).then((found) =>
      found === undefined ? undefined : { uid: found.uid, ownerReferences: found.ownerReferences },
    );
    // A failed read is not remembered: it fails the sync, which the queue retries.
    answer.catch(() => answers.delete(key));
    answers.set(key, answer);
    return answer;
  };
}

/** The split's available shards, both sides, sorted. */
function availableIn({ canary, stable }: Split): string[] {
  return [...canary, ...stable].sort();
}

/** Attempts at one object's patch when it keeps changing under the sharder. */
const conflictAttempts = 4;

interface RingSync {
  name: string;
  available: ReadonlySet<string>;
  hashRing: SplitHashRing;
  selector: LabelSelector;
  /** The counts of the SyncReport. */
  counts: Pick<SyncReport, 'examined' | 'moved' | 'drained' | 'unassigned' | 'unresolved' | 'pending'>;
  unresolvedChains: UnresolvedChains[];
  log: Logger;
}

export class SyncReconciler {
  readonly #options: SyncReconcilerOptions;
  /**
   * The available shards (and their split into canary and stable, canary.ts) of each ring's sync under way, or
   * else of its last one: a change calls for a sync at once. Set as a sync starts, so that the Lease events
   * during it that leave the split as it is (renewals, state labels) do not queue a second full sync behind it.
   */
  readonly #synced = new Map<string, { shards: readonly string[]; signature: string }>();

  constructor(options: SyncReconcilerOptions) {
    this.#options = options;
  }

  /**
   * Whether the ring's available shards, or the side of one of them (its Lease's labels changed), differ from
   * those of its sync under way, or else of its last one.
   */
  membershipChanged(ring: string): boolean {
    return this.#synced.get(ring)?.signature !== splitSignature(this.#split(ring));
  }

  async reconcile(name: string): Promise<HandlerResult | undefined> {
    const ring = this.#options.ring(name);
    if (ring === undefined || ring.metadata?.deletionTimestamp !== undefined) {
      this.#synced.delete(name);
      return undefined;
    }
    const split = this.#split(name);
    const available = availableIn(split);
    const previous = this.#synced.get(name)?.shards;
    this.#synced.set(name, { shards: available, signature: splitSignature(split) });
    const observers = this.#options.observers ?? [];
    for (const observer of observers) observer.started?.(name, available, previous);
    const sync: RingSync = {
      name,
      available: new Set(available),
      hashRing: new SplitHashRing(split),
      selector: effectiveNamespaceSelector(ring, this.#options.excludedNamespaces),
      counts: { examined: 0, moved: 0, drained: 0, unassigned: 0, unresolved: 0, pending: 0 },
      unresolvedChains: [],
      log: this.#options.logger.child({ ring: name }),
    };
    const started = performance.now();
    const report = (error?: unknown): void => {
      const seconds = (performance.now() - started) / 1000;
      const done: SyncReport = {
        ring: name,
        shards: available,
        previousShards: previous,
        ...sync.counts,
        unresolvedChains: sync.unresolvedChains,
        generation: ring.metadata?.generation,
        seconds,
        ...(error === undefined ? {} : { error }),
      };
      for (const observer of observers) observer.finished?.(done);
    };
    try {
      const result = await this.#sync(sync, ring);
      report();
      return result;
    } catch (error) {
      // Retried by the queue with backoff; a membership change meanwhile calls for a sync at once.
      this.#synced.delete(name);
      report(error);
      throw error;
    }
  }

  async #sync(sync: RingSync, ring: ControllerRing): Promise<HandlerResult> {
    // Controlled objects first, the deepest level of each chain first: moved from an unavailable shard, they
    // reach the new shard before their owners (whose shard then finds them there, design.md "Assignment and
    // movement"); drained, they are mostly labelled by the time their root's shard hands all levels over.
    const controlled = ring.spec.resources.flatMap((entry) =>
      (entry.controlledResources ?? []).map(({ group = '', resource }) => {
        const level = { group, resource };
        return { level, depth: chainLevel(entry, level), owners: ownerChain(entry, level) ?? [] };
      }),
    );
    controlled.sort((a, b) => b.depth - a.depth);
    for (const { level, owners } of controlled) {
      await this.#syncResource(sync, level.group, level.resource, owners);
    }
    for (const { group = '', resource } of ring.spec.resources) {
      await this.#syncResource(sync, group, resource, undefined);
    }
    const { pending } = sync.counts;
    return { requeueAfter: pending > 0 ? this.#options.retryAfterMs : this.#options.syncPeriodMs };
  }

  /**
   * The ring's available members by side: the webhook splits them alike (webhook/assign.ts). Never a Lease the
   * ring does not trust or whose name is no label value.
   */
  #split(name: string): Split {
    const ring = this.#options.ring(name);
    if (ring === undefined) return { percent: 0, canary: [], stable: [] };
    return ringSplit(ringMembership(this.#options.leases(), ring, this.#options.now()).members, ring);
  }

  /**
   * Syncs one resource: a ring resource (`owners` undefined), or a controlled resource below the owners of its
   * chain (sharding/chain.ts; [] for the first level).
   */
  async #syncResource(
    sync: RingSync,
    group: string,
    resource: string,
    owners: LevelOwners | undefined,
  ): Promise<void> {
    const info = await this.#options.discovery.resolve(group, resource);
    // The ring's status reports resources the API server does not serve.
    if (info === undefined) return;
    const source: KeySource =
      owners === undefined ? { controlled: false, group, kind: info.kind } : { controlled: true };
    const read = memoized(ownerReader(this.#options.rest, this.#options.discovery));
    const qualified = resourceName({ group, resource: info.resource });
    // The first unresolved object in list order (not in the order the reads answer): the same one each sync.
    let unresolved:
      { count: number; position: number; object: string; reason: string; message: string } | undefined;
    let listed = 0;
    const objects = listMetadata(this.#options.rest, collectionPath(info), {
      ...(this.#options.pageSize === undefined ? {} : { pageSize: this.#options.pageSize }),
    });
    await forEachConcurrently(objects, this.#options.concurrency, async (object) => {
      if (!inRingNamespaces(sync.selector, object.metadata.namespace, this.#namespaceLabels)) return;
      const position = listed++;
      const result: ChainKeyResult =
        owners === undefined || owners.length === 0
          ? hashKey(object.metadata, source)
          : owners === 'ChainTooDeep'
            ? chainTooDeep(qualified)
            : await chainKey(object.metadata, owners, read);
      if (!('key' in result)) {
        if (result.reason === 'NoName' || result.reason === 'NoControllerReference') return;
        sync.counts.unresolved++;
        const { namespace, name = '' } = object.metadata;
        const first =
          unresolved === undefined || position < unresolved.position
            ? { position, object: namespace ? `${namespace}/${name}` : name, ...result }
            : unresolved;
        unresolved = { ...first, count: (unresolved?.count ?? 0) + 1 };
        return;
      }
      sync.counts.examined++;
      await this.#act(sync, info, object, sync.hashRing.shardFor(result.key));
    });
    if (unresolved !== undefined) {
      const { count, object, reason, message } = unresolved;
      sync.unresolvedChains.push({ resource: qualified, count, object, reason, message });
      sync.log.warn(
        { resource: info.resource, group, count, object, reason },
        `${String(count)} objects of ${info.resource} were not assigned: their chain of controllers has no root; the first: ${message}`,
      );
    }
  }

  readonly #namespaceLabels = (name: string): Record<string, string> | undefined =>
    this.#options.namespace(name)?.metadata?.labels;

  /** Moves or drains one object, re-reading it on conflicts: never forced over a change it has not seen. */
  async #act(
    sync: RingSync,
    info: ResourceInfo,
    listed: ListedObject,
    desired: string | undefined,
  ): Promise<void> {
    const path = objectPath(info, listed.metadata.namespace, listed.metadata.name ?? '');
    let object = listed;
    for (let attempt = 1; ; attempt++) {
      const action = syncAction(sync.name, sync.available, { labels: object.metadata.labels, desired });
      const current = object.metadata.labels?.[shardLabel(sync.name)];
      if (desired === undefined) {
        if (current === undefined) sync.counts.unassigned++;
        return;
      }
      if (action === 'ok') return;
      if (
        action === 'move' &&
        current !== undefined &&
        availableIn(this.#split(sync.name)).includes(current)
      ) {
        // Its shard came back (e.g. restarted under the same name) since this sync began: it may be acting on
        // the object again, so the object may only leave through a drain. The next sync sees the new membership.
        sync.counts.pending++;
        return;
      }
      const resourceVersion = object.metadata.resourceVersion ?? '';
      const body =
        action === 'move'
          ? movePatch(sync.name, desired, resourceVersion)
          : drainPatch(sync.name, resourceVersion);
      try {
        // The answer is of no use here: asked as metadata only (the object may be large), and not parsed.
        await this.#options.rest.request({
          method: 'PATCH',
          path,
          contentType: patchTypes.merge,
          accept: metadataAccept,
          body,
          discardAnswer: true,
        });
        sync.counts[action === 'move' ? 'moved' : 'drained']++;
        for (const observer of this.#options.observers ?? []) observer.acted?.(sync.name, action);
        sync.log.debug({ object: path, action, shard: desired }, 'synced object');
        return;
      } catch (error) {
        if (isNotFound(error)) return;
        // Anything else ends the sync, above all a write the leadership fence refused (options.rest is fenced
        // on the sharder): the objects' patches run through forEachConcurrently, which takes no further object
        // after a failure, so no patch follows the first refusal.
        if (!isConflict(error)) throw error;
        // Expected: the object changed since it was listed. It is read again and decided anew.
        sync.log.debug({ object: path, action, attempt, err: error }, 'the object changed: syncing it again');
      }
      if (attempt === conflictAttempts) {
        sync.counts.pending++;
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, 25 * 2 ** attempt));
      try {
        object = await this.#options.rest.request<PartialObjectMetadata>({ path, accept: metadataAccept });
      } catch (error) {
        if (isNotFound(error)) return;
        throw error;
      }
    }
  }
}
