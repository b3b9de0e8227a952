import { drainLabel, drainValue, shardLabel } from '../api/v1alpha1/index.ts';

/**
 * What the sharder's sync does with one listed object:
 * - ok: nothing;
 * - move: assign it to its desired shard at once (movePatch), its current shard is not acting on it;
 * - drain: ask its live shard to let go (drainPatch).
 */
export type SyncAction = 'ok' | 'move' | 'drain';

/** One object of a ring as the sharder's sync sees it. */
export interface ListedObject {
  readonly labels: Readonly<Record<string, string>> | undefined;
  /** ring.shardFor(key); undefined when the object has no key or the ring has no available shard. */
  readonly desired: string | undefined;
}

/**
 * The design's sync rule (design.md, "Assignment and movement", 2), the same for ring resource objects and
 * controlled objects:
 * - no desired shard: ok, there is nothing to assign the object to;
 * - shard label absent, or its shard unavailable: move;
 * - drain label present on an available shard: ok, that shard is letting go;
 * - available shard, not the desired one: drain.
 * A drained controlled object whose controller is on the same shard stays there until the controller is
 * handed over: the shard hands over both in the controller's work item, the controlled objects first.
 */
export function syncAction(ring: string, available: ReadonlySet<string>, object: ListedObject): SyncAction {
  const { labels, desired } = object;
  if (desired === undefined) return 'ok';
  const current = labels?.[shardLabel(ring)];
  if (current === undefined || !available.has(current)) return 'move';
  if (labels?.[drainLabel(ring)] === drainValue || current === desired) return 'ok';
  return 'drain';
}
