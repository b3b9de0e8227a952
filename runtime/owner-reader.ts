// Reads a chain level's controller for sharding/chain.ts: one GET of its metadata (PartialObjectMetadata, so
// that a large object costs its metadata only), without resourceVersion, so the read is current. Used by the
// webhook and the sync alike, neither of which watches the sharded objects.
import type { ChainResource, OwnerMetadata, ReadOwner } from '../sharding/chain.ts';
import { objectPath, type Discovery } from './discovery.ts';
import { isNotFound, metadataAccept, type RestClient } from './rest.ts';

/** A ReadOwner over `rest`; `signal` bounds the reads (the webhook's time budget). */
export function ownerReader(rest: RestClient, discovery: Discovery, signal?: AbortSignal): ReadOwner {
  return async (owner: ChainResource, namespace: string | undefined, name: string) => {
    const info = await discovery.resolve(owner.group, owner.resource);
    // Not served: no object of it exists, so the chain has no root (the ring's status names the resource).
    if (info === undefined) return undefined;
    try {
      const found = await rest.request<{ metadata?: OwnerMetadata }>({
        path: objectPath(info, namespace, name),
        accept: metadataAccept,
        ...(signal === undefined ? {} : { signal }),
      });
      return { ...found.metadata, kind: info.kind };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };
}
