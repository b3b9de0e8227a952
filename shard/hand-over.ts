// Letting go of an object (design.md, "Drain acknowledgement"): what a Shard and a ShardAdapter write in the
// work item that would otherwise have reconciled a drained object, each only while its Lease is certain.
import { drainLabel, drainValue, shardLabel } from '../api/v1alpha1/index.ts';
import { drainAcknowledgementPatch, drainPatch } from '../sharding/patches.ts';
import { objectPath, type ResourceInfo } from '../runtime/discovery.ts';
import { ExpectedError } from '../runtime/expected-error.ts';
import { objectKey } from '../runtime/informer.ts';
import type { Fence } from '../runtime/leader-election.ts';
import type { Logger } from '../runtime/logger.ts';
import type { KubeObject, ObjectMeta } from '../runtime/object.ts';
import { isConflict, isNotFound, patchTypes, type RestClient } from '../runtime/rest.ts';
import type { HandedOver } from './handed-over.ts';

/** The shard that hands over: its ring and name, its Lease's fence and the client that writes (fenced by it). */
export interface HandingShard {
  ring: string;
  name: string;
  fence: Fence;
  client: RestClient;
}

/** One resource's objects on a shard: what handing one over needs to know of them. */
export interface HandOverCache {
  info: ResourceInfo;
  handedOver: HandedOver;
  /** The resourceVersion of `key` that the shard's cache shows now. */
  cachedVersion(key: string): string | undefined;
  /** Counts one object handed over (controller_rings_shard_drains_acknowledged_total). */
  acknowledged(): void;
}

/**
 * Whether the Lease is certain now (see Fence.certain); says so at debug when it is not (the Lease's loss is
 * logged once, not for every object it stops).
 */
export function certain(fence: Fence, logger: Logger): boolean {
  if (fence.certain) return true;
  logger.debug({ reason: fence.reason }, 'not acting on the object: the shard lease is not certain');
  return false;
}

/**
 * Lets go of an object: removes both labels, with the cached resourceVersion as precondition, in the work
 * item that would otherwise have reconciled it. After this the shard never touches the object again; the
 * UPDATE passes the sharder's webhook, which assigns the new shard. An object without the drain label (a
 * controlled object going with its owner before the sharder drained it) gets it first: the webhook assigns
 * anew only an object that carried it, and would otherwise give it back to this live shard. False when the
 * Lease stopped being certain; a changed object rejects with an ExpectedError (its new version is retried).
 */
export async function handOver(
  shard: HandingShard,
  cache: HandOverCache,
  metadata: ObjectMeta,
  logger: Logger,
): Promise<boolean> {
  if (metadata.name === undefined) return true;
  const { info } = cache;
  const { ring } = shard;
  const path = objectPath(info, metadata.namespace, metadata.name);
  const versions = [metadata.resourceVersion ?? ''];
  const write = async (body: unknown): Promise<KubeObject | undefined> => {
    if (!certain(shard.fence, logger)) return undefined;
    return shard.client.request<KubeObject>({ method: 'PATCH', path, contentType: patchTypes.merge, body });
  };
  try {
    if (metadata.labels?.[drainLabel(ring)] !== drainValue) {
      const drained = await write(drainPatch(ring, versions[0] ?? ''));
      if (drained === undefined) return false;
      versions.push(drained.metadata?.resourceVersion ?? '');
    }
    const result = await write(drainAcknowledgementPatch(ring, versions.at(-1) ?? ''));
    if (result === undefined) return false;
    cache.acknowledged();
    // The webhook may have given it back to this shard: then it stays ours.
    if (result.metadata?.labels?.[shardLabel(ring)] !== shard.name) {
      const key = objectKey({ metadata });
      cache.handedOver.add(key, versions, cache.cachedVersion(key));
    }
    logger.debug('acknowledged drain: the object moves to another shard');
    return true;
  } catch (error) {
    // Deleted meanwhile: nothing to hand over. Changed meanwhile: the watch brings the new version and a retry.
    if (isNotFound(error)) return true;
    if (isConflict(error))
      throw new ExpectedError('the object changed before the drain was acknowledged', { cause: error });
    throw error;
  }
}
