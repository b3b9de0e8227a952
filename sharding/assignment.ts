import { drainLabel, drainValue, shardLabel } from '../api/v1alpha1/index.ts';

/**
 * What the sharder's sync does with one listed object:
 * - ok: nothing;
 * - move: assign it to its desired shard at once (movePatch), its current shard is not acting on it;
 * - drain: ask its live shard to let go (drainPatch);
 * - wait: nothing yet, but it has to move once its owner has: sync again soon rather than at the next period.
 */
export type SyncAction = 'ok' | 'move' | 'drain' | 'wait';

/** One object of a ring as the sharder's sync sees it. */
export interface ListedObject {
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** ring.shardFor(key); undefined when the object has no key or the ring has no available shard. */
  readonly desired: string | undefined;
  /**
   * For controlled objects: the shard label of the owner (its controller). Only whether it names the
   * object's own shard matters, so a caller may pass undefined for owners found on their desired shard.
   */
  readonly owner?: { readonly shard: string | undefined };
}

/**
 * The design's sync rule (design.md, "Assignment and movement", 2):
 * - no desired shard: ok, there is nothing to assign the object to;
 * - shard label absent, or its shard unavailable: move;
 * - drain label present on an available shard: ok, that shard is acknowledging;
 * - available shard, not the desired one: drain;
 * - except for a controlled object that is on the same live shard as its owner: wait. That shard reconciles
 *   the object as part of its owner, and would lose sight of it (and recreate it) if the object moved first.
 *   Once the owner's drain is acknowledged, the object no longer shares a shard with it and is drained too.
 *   Objects on unavailable shards move regardless: the owner's shard cannot see them either way.
 */
export function syncAction(ring: string, available: ReadonlySet<string>, object: ListedObject): SyncAction {
  const { labels, desired, owner } = object;
  if (desired === undefined) return 'ok';
  const current = labels?.[shardLabel(ring)];
  if (current === undefined || !available.has(current)) return 'move';
  if (labels?.[drainLabel(ring)] === drainValue || current === desired) return 'ok';
  return owner?.shard === current ? 'wait' : 'drain';
}
