// The Events the sharder records on a ControllerRing (docs/events.md lists them): its shards' transitions, its
// ignored shard Leases and its rebalances. The controllers say what happened; this module words it, and the
// recorder (runtime/events.ts) aggregates and rate-limits the writes. Only the leader records: its recorder
// writes through the term's fenced client.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { apiVersion, kind, ringLabel, stateLabel, type ControllerRing } from '../api/v1alpha1/index.ts';
import type { ShardState } from '../sharding/lease.ts';
import { isLabelValue, trustedNamespaces, type LeftOutLease } from '../sharding/membership.ts';
import type { EventRecord, EventRecorder, ObjectReference } from '../runtime/events.ts';
import type { SyncReport } from './sync/reconciler.ts';

/** The Events' reportingController. */
export const reportingController = 'controller-rings.io/sharder';

/** Event reasons, as docs/events.md describes them. */
export const reasons = {
  shardJoined: 'ShardJoined',
  shardRenewed: 'ShardRenewed',
  shardExpired: 'ShardExpired',
  shardLeft: 'ShardLeft',
  shardDead: 'ShardDead',
  shardLeaseDeleted: 'ShardLeaseDeleted',
  shardLeaseIgnored: 'ShardLeaseIgnored',
  rebalanceStarted: 'RebalanceStarted',
  rebalanceFinished: 'RebalanceFinished',
  rebalanceFailed: 'RebalanceFailed',
} as const;

function leaseReference(lease: ILease): ObjectReference {
  const { name = '', namespace, uid } = lease.metadata ?? {};
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    name,
    ...(namespace === undefined ? {} : { namespace }),
    ...(uid === undefined ? {} : { uid }),
  };
}

function shardList(shards: readonly string[]): string {
  return shards.length === 0 ? 'none' : shards.join(', ');
}

export class RingEvents {
  readonly #recorder: Pick<EventRecorder, 'record'>;
  readonly #ring: (name: string) => ControllerRing | undefined;

  constructor(recorder: Pick<EventRecorder, 'record'>, ring: (name: string) => ControllerRing | undefined) {
    this.#recorder = recorder;
    this.#ring = ring;
  }

  /**
   * The shard lease controller wrote the shard's state label `to` over `from` (undefined: the Lease had none):
   * a transition. The label is persisted, so a new leader that finds it current records nothing again.
   */
  shardStateWritten(ringName: string, lease: ILease, from: string | undefined, to: ShardState): void {
    const shard = lease.metadata?.name ?? '';
    const ref = `Lease ${lease.metadata?.namespace ?? ''}/${shard}`;
    const holder = lease.spec?.holderIdentity ?? '';
    if (to === 'ready') {
      if (from === 'expired' || from === 'uncertain') {
        this.#record(
          ringName,
          lease,
          'Normal',
          reasons.shardRenewed,
          'Renew',
          `shard ${shard} renews its ${ref} again`,
        );
      } else {
        const again = from === undefined ? '' : ' again';
        this.#record(
          ringName,
          lease,
          'Normal',
          reasons.shardJoined,
          'Join',
          `shard ${shard} joined the ring${again} (${ref})`,
        );
      }
    } else if (to === 'expired') {
      this.#record(
        ringName,
        lease,
        'Warning',
        reasons.shardExpired,
        'Expire',
        `shard ${shard} has not renewed its ${ref} in time: it keeps its objects until the sharder declares it dead, one Lease duration later`,
      );
    } else if (to === 'dead' && from !== undefined && from !== 'dead') {
      if (holder === '') {
        this.#record(
          ringName,
          lease,
          'Normal',
          reasons.shardLeft,
          'Release',
          `shard ${shard} released its ${ref}: it left the ring, its objects move to the other shards`,
        );
      } else {
        this.#record(
          ringName,
          lease,
          'Warning',
          reasons.shardDead,
          'Observe',
          `shard ${shard} is dead: its ${ref} is held by ${holder}; its objects move to the other shards`,
        );
      }
    }
  }

  /** The sharder acquired the Lease of a shard that stopped renewing it. */
  shardAcquired(ringName: string, lease: ILease): void {
    const shard = lease.metadata?.name ?? '';
    this.#record(
      ringName,
      lease,
      'Warning',
      reasons.shardDead,
      'Acquire',
      `shard ${shard} stopped renewing its Lease ${lease.metadata?.namespace ?? ''}/${shard}: the sharder acquired it, the shard is dead and its objects move to the other shards`,
    );
  }

  /** The sharder deleted the Lease of a shard dead for a while (orphaned). */
  orphanedLeaseDeleted(ringName: string, lease: ILease): void {
    const { name = '', namespace = '' } = lease.metadata ?? {};
    this.#record(
      ringName,
      lease,
      'Normal',
      reasons.shardLeaseDeleted,
      'Delete',
      `deleted the Lease ${namespace}/${name} of shard ${name}, dead for a minute (orphaned)`,
    );
  }

  /**
   * A shard Lease disappeared from the sharder's watch. The sharder's own deletions are of dead Leases (their
   * state label says so) and recorded by orphanedLeaseDeleted; a Lease deleted while its shard was available
   * was deleted by someone else, and the shard left the ring without a release.
   */
  leaseDeleted(lease: ILease): void {
    const { name = '', namespace = '', labels } = lease.metadata ?? {};
    const state = labels?.[stateLabel];
    const ring = this.#ring(labels?.[ringLabel] ?? '');
    if (ring === undefined || state === undefined || state === 'dead' || state === 'orphaned') return;
    if (!trustedNamespaces(ring).includes(namespace) || !isLabelValue(name)) return;
    this.#record(
      ring.metadata?.name ?? '',
      lease,
      'Warning',
      reasons.shardLeaseDeleted,
      'Observe',
      `the Lease ${namespace}/${name} of shard ${name} was deleted while the shard was ${state}: the shard left the ring, its objects move to the other shards`,
    );
  }

  /** A shard Lease the ring leaves out, newly or for another reason than before. */
  leaseIgnored(ringName: string, leftOut: LeftOutLease): void {
    const { namespace, name, reason, message } = leftOut;
    const lease: ILease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { namespace, name },
    };
    // Anyone who may create a Lease in an untrusted namespace can make one: no warning of the ring.
    const type = reason === 'UntrustedNamespace' ? 'Normal' : 'Warning';
    this.#record(ringName, lease, type, reasons.shardLeaseIgnored, 'Ignore', `${message} (${reason})`);
  }

  /** A sync begins whose available shards differ from those of the ring's previous sync. */
  rebalanceStarted(ringName: string, shards: readonly string[], previous: readonly string[]): void {
    this.#record(
      ringName,
      undefined,
      'Normal',
      reasons.rebalanceStarted,
      'Rebalance',
      `available shards changed from ${shardList(previous)} to ${shardList(shards)}: assigning the ring's objects`,
    );
  }

  /** A rebalance ended: it went through, or failed part way (the sync is retried with backoff). */
  rebalanceFinished(report: SyncReport): void {
    const { ring, shards, examined, moved, drained, unassigned, unresolved, pending, seconds, error } =
      report;
    // Chains that could not be followed only when there are any: most rings have no chains.
    const broken = unresolved > 0 ? `, ${unresolved} whose chain of controllers could not be followed` : '';
    const counts = `moved ${moved} and drained ${drained} of ${examined} objects in ${seconds.toFixed(1)} s, ${unassigned} left unassigned${broken}, ${pending} to look at again`;
    if (error === undefined) {
      this.#record(
        ring,
        undefined,
        'Normal',
        reasons.rebalanceFinished,
        'Rebalance',
        `rebalanced onto shards ${shardList(shards)}: ${counts}`,
      );
    } else {
      const why = error instanceof Error ? error.message : 'unknown error';
      this.#record(
        ring,
        undefined,
        'Warning',
        reasons.rebalanceFailed,
        'Rebalance',
        `rebalance onto shards ${shardList(shards)} failed (retried with backoff): ${counts}: ${why}`,
      );
    }
  }

  #record(
    ringName: string,
    lease: ILease | undefined,
    type: EventRecord['type'],
    reason: string,
    action: string,
    note: string,
  ): void {
    const ring = this.#ring(ringName);
    const uid = ring?.metadata?.uid;
    // A ring gone from the cache has no uid to name: `kubectl describe` would not find the Event.
    if (ring === undefined || uid === undefined) return;
    this.#recorder.record({
      regarding: { apiVersion, kind, name: ringName, uid },
      ...(lease === undefined ? {} : { related: leaseReference(lease) }),
      type,
      reason,
      action,
      note,
    });
  }
}
