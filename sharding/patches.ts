import { drainLabel, drainValue, shardLabel } from '../api/v1alpha1/index.ts';

/** One operation of an RFC 6902 JSON Patch, the only patch type an admission response may carry. */
export type JsonPatchOperation =
  | { readonly op: 'add'; readonly path: string; readonly value: unknown }
  | { readonly op: 'remove'; readonly path: string };

/** An RFC 7386 merge patch of an object's labels; null removes a label. */
export interface LabelsMergePatch {
  readonly metadata: {
    // Makes the patch fail with a conflict if the object changed since the sharder or shard looked at it.
    readonly resourceVersion: string;
    readonly labels: Readonly<Record<string, string | null>>;
  };
}

/**
 * The admission webhook's patch assigning an object to `shard`. A drain label left on the object is removed
 * with it: it asked a previous shard to let go, and must not make the new shard drop the object at once.
 */
export function assignPatch(
  ring: string,
  shard: string,
  labels: Readonly<Record<string, string>> | undefined,
): JsonPatchOperation[] {
  if (!labels) return [{ op: 'add', path: '/metadata/labels', value: { [shardLabel(ring)]: shard } }];
  const patch: JsonPatchOperation[] = [{ op: 'add', path: labelPath(shardLabel(ring)), value: shard }];
  if (drainLabel(ring) in labels) patch.push({ op: 'remove', path: labelPath(drainLabel(ring)) });
  return patch;
}

/**
 * The sharder's move of an object listed at `resourceVersion` from an unavailable (or no) shard to `shard`.
 * The sharder sets the new shard itself rather than removing the label for the webhook to assign: the result
 * is the same when the webhook is up, and objects are still assigned while it is down (design invariant 1).
 */
export function movePatch(ring: string, shard: string, resourceVersion: string): LabelsMergePatch {
  return { metadata: { resourceVersion, labels: { [shardLabel(ring)]: shard, [drainLabel(ring)]: null } } };
}

/**
 * The sharder's request to the current shard to let go of an object listed at `resourceVersion`. A shard
 * writes it too, on a controlled object it hands over with its controller before the sharder drained it:
 * the webhook assigns anew only an object that carried the drain label.
 */
export function drainPatch(ring: string, resourceVersion: string): LabelsMergePatch {
  return { metadata: { resourceVersion, labels: { [drainLabel(ring)]: drainValue } } };
}

/**
 * A shard's acknowledgement of a drain, its handover of the object, written in the work item that would have
 * reconciled the object (for a controlled object: its controller's): it removes both labels, after which the
 * shard no longer touches the object; the UPDATE passes the admission webhook, which assigns the object to its
 * new shard (or the sharder's next sync does).
 */
export function drainAcknowledgementPatch(ring: string, resourceVersion: string): LabelsMergePatch {
  return { metadata: { resourceVersion, labels: { [shardLabel(ring)]: null, [drainLabel(ring)]: null } } };
}

/** The JSON Pointer (RFC 6901) to a label: its key's `~` and `/` escaped, in that order. */
function labelPath(key: string): string {
  return `/metadata/labels/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
}
