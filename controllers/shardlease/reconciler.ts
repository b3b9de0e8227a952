// The shard lease controller (design.md, "Shard states"): computes each shard Lease's state, writes it as a
// label for people, acquires uncertain Leases (if that write succeeds, the shard is gone), deletes orphaned
// ones, and asks to be called again when the state next changes. It acts only on the rings' members: a Lease a
// ring does not trust, or that is not one of its shards, is never written, acquired or deleted.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { ringLabel, stateLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { acquireLease, shardState } from '../../sharding/lease.ts';
import { isMember, ringMembership } from '../../sharding/membership.ts';
import type { Logger } from '../../runtime/logger.ts';
import { microTime } from '../../runtime/micro-time.ts';
import { isConflict, isNotFound, patchTypes, type RestClient } from '../../runtime/rest.ts';
import type { HandlerResult } from '../../runtime/workqueue.ts';
import type { RingEvents } from '../ring-events.ts';

export interface ShardLeaseReconcilerOptions {
  /** Reads a shard Lease by key (namespace/name) from the sharder's cache. */
  lease(key: string): ILease | undefined;
  /** All shard Leases in the sharder's cache, for the ring's membership. */
  leases(): Iterable<ILease>;
  ring(name: string): ControllerRing | undefined;
  rest: RestClient;
  /** The sharder replica's identity, which acquired Leases name as their holder (`sharder/<identity>`). */
  identity: string;
  now(): Date;
  logger: Logger;
  /** Told of each state label written: a transition of the shard (the ring's Events). */
  events?: RingEvents;
}

/** Requeue a little after the computed change, so that the clock has surely passed it when we look again. */
const requeueSlackMs = 100;

export class ShardLeaseReconciler {
  readonly #options: ShardLeaseReconcilerOptions;

  constructor(options: ShardLeaseReconcilerOptions) {
    this.#options = options;
  }

  async reconcile(key: string): Promise<HandlerResult | undefined> {
    const { rest, identity, logger } = this.#options;
    const lease = this.#options.lease(key);
    const metadata = lease?.metadata;
    if (lease === undefined || metadata?.name === undefined || metadata.namespace === undefined)
      return undefined;
    const path = `/apis/coordination.k8s.io/v1/namespaces/${metadata.namespace}/leases/${metadata.name}`;
    const now = this.#options.now();
    const ring = this.#options.ring(metadata.labels?.[ringLabel] ?? '');
    if (
      ring === undefined ||
      !isMember(ringMembership(this.#options.leases(), ring, now), metadata.namespace, metadata.name)
    ) {
      // The ring's status tells about Leases it leaves out; the ring controller logs them.
      logger.debug({ lease: key }, 'not a shard of a ring: left alone');
      return undefined;
    }
    const { state, nextChange } = shardState(lease, now);
    const log = logger.child({ lease: key, state });

    try {
      if (state === 'orphaned') {
        // Preconditions: a shard that came back and renewed in the meantime keeps its Lease.
        const preconditions = { uid: metadata.uid, resourceVersion: metadata.resourceVersion };
        await rest.request({ method: 'DELETE', path, body: { preconditions } });
        log.info('deleted orphaned shard lease');
        this.#options.events?.orphanedLeaseDeleted(ring.metadata?.name ?? '', lease);
        return undefined;
      }
      if (state === 'uncertain') {
        const spec = acquireLease(lease, identity, now);
        // An update with the read resourceVersion: it fails if the shard renewed after all.
        await rest.request({
          method: 'PUT',
          path,
          body: {
            ...lease,
            metadata: { ...metadata, labels: { ...metadata.labels, [stateLabel]: 'dead' } },
            spec: {
              ...lease.spec,
              ...spec,
              acquireTime: microTime(spec.acquireTime),
              renewTime: microTime(spec.renewTime),
            },
          },
        });
        log.warn('acquired shard lease of a shard that stopped renewing: the shard is dead');
        this.#options.events?.shardAcquired(ring.metadata?.name ?? '', lease);
        return undefined;
      }
      const written = metadata.labels?.[stateLabel];
      if (written !== state) {
        // With the read resourceVersion: a reconcile on a cache that has not seen this replica's previous write
        // yet conflicts instead of writing (and telling) the same transition twice.
        await rest.request({
          method: 'PATCH',
          path,
          contentType: patchTypes.merge,
          body: { metadata: { resourceVersion: metadata.resourceVersion, labels: { [stateLabel]: state } } },
        });
        log.debug('shard lease changed state');
        // The label is what the state was last seen as, by this replica or a former leader: a change of it is
        // a transition, recorded once however often leadership moves.
        this.#options.events?.shardStateWritten(ring.metadata?.name ?? '', lease, written, state);
      }
    } catch (error) {
      // The cache is behind the Lease: its watch event brings the current version and another reconcile.
      if (isConflict(error) || isNotFound(error)) {
        log.debug({ err: error }, 'the shard lease changed while writing it');
        return undefined;
      }
      throw error;
    }
    if (nextChange === undefined) return undefined;
    return { requeueAfter: Math.max(0, nextChange.getTime() - now.getTime()) + requeueSlackMs };
  }
}
