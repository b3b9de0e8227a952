// The admission webhook's decision (design.md, "Assignment and movement", 1): an object of a ring that has no
// shard label yet gets the label of the shard its hash key falls on among the ring's available shards. Every
// other case admits the object unchanged: the webhook runs with failurePolicy Ignore and must never be the
// reason a write fails, and the sharder's sync assigns whatever admission left alone.
import type { IStatus } from '@kubernetes-models/apimachinery/apis/meta/v1/Status';
import {
  drainLabel,
  drainValue,
  shardLabel,
  type ControllerRing,
  type RingResource,
} from '../api/v1alpha1/index.ts';
import type { Logger } from '../runtime/logger.ts';
import {
  chainKey,
  chainTooDeep,
  ownerChain,
  type ChainKeyResult,
  type LevelOwners,
  type ReadOwner,
} from '../sharding/chain.ts';
import { hashKey, type KeySource } from '../sharding/keys.ts';
import type { RingLease } from '../sharding/membership.ts';
import { resourceName } from '../sharding/resource-name.ts';
import {
  allow,
  badRequestResponse,
  badRequestStatus,
  decodeReview,
  review,
  type AdmissionRequest,
  type AdmissionResponse,
  type AdmissionReview,
} from './admission.ts';
import { RingShardsCache } from './ring-shards.ts';

/** What the webhook knows about rings; the sharder implements it with its informer caches. */
export interface RingDirectory {
  /** The ControllerRing, or undefined if unknown. */
  ring(name: string): ControllerRing | undefined;
  /** All shard Leases known (of every ring, in every namespace): the ring's membership decides which count. */
  leases(): Iterable<RingLease>;
}

/**
 * How a webhook call ended: a shard label added; admitted unchanged; admitted unchanged after an unexpected
 * error; or not a valid AdmissionReview (answered with HTTP 400).
 */
export type AdmissionResult = 'assigned' | 'unassigned' | 'error' | 'invalid';

/** The HTTP answer to one webhook call. */
export interface WebhookReply {
  statusCode: number;
  body: AdmissionReview | IStatus;
  result: AdmissionResult;
}

export interface AssignerOptions {
  directory: RingDirectory;
  logger: Logger;
  /** The clock shard states are computed at; default the system clock. */
  now?: () => Date;
  /**
   * Reads a chain level's controller (runtime/owner-reader.ts), its reads bounded by `signal`: objects below
   * the first level of a chain (controlledResources[].owner) are assigned only with it.
   */
  readOwner?: (signal: AbortSignal) => ReadOwner;
  /** How long the reads of one object's chain may take in all; default 1000 ms, within the webhook's timeout. */
  chainBudgetMs?: number;
}

/** What the webhook answers to one admission request, and how that counts in metrics. */
export interface AdmissionDecision {
  response: AdmissionResponse;
  result: AdmissionResult;
}

export class Assigner {
  readonly #directory: RingDirectory;
  readonly #logger: Logger;
  readonly #now: () => Date;
  readonly #readOwner: ((signal: AbortSignal) => ReadOwner) | undefined;
  readonly #chainBudgetMs: number;
  /** Per ring, its shards as last computed: most calls find them unchanged. */
  readonly #ringShards = new RingShardsCache();

  constructor({
    directory,
    logger,
    now = () => new Date(),
    readOwner,
    chainBudgetMs = 1000,
  }: AssignerOptions) {
    this.#directory = directory;
    this.#logger = logger;
    this.#now = now;
    this.#readOwner = readOwner;
    this.#chainBudgetMs = chainBudgetMs;
  }

  /**
   * Answers a call of `ring`'s webhook with request body `body`. A body that is no AdmissionReview v1 request
   * gets HTTP 400: the API server counts that as a failed call, which failurePolicy Ignore lets pass.
   */
  async handle(ring: string, body: Uint8Array): Promise<WebhookReply> {
    const decoded = decodeReview(body);
    if ('error' in decoded) {
      const { error, uid } = decoded;
      this.#logger.warn({ ring, uid, error }, 'invalid admission request');
      const answer = uid === undefined ? badRequestStatus(error) : review(badRequestResponse(uid, error));
      return { statusCode: 400, body: answer, result: 'invalid' };
    }
    const { response, result } = await this.admit(ring, decoded.request);
    return { statusCode: 200, body: review(response), result };
  }

  /** Decides one admission request of `ring`'s webhook. Never throws. */
  async admit(ring: string, request: AdmissionRequest): Promise<AdmissionDecision> {
    try {
      return await this.#admit(ring, request);
    } catch (error) {
      this.#logger.error({ err: error, ring, object: objectName(request) }, 'admission failed');
      const warning = `ControllerRing "${ring}": the sharder failed to assign the object at admission (${String(error)}); it assigns it on its next sync`;
      return { response: allow(request.uid, { warnings: [warning] }), result: 'error' };
    }
  }

  async #admit(ring: string, request: AdmissionRequest): Promise<AdmissionDecision> {
    const { uid, object } = request;
    // Labels cannot be set through a subresource; DELETE and CONNECT have nothing to label.
    const writes = request.operation === 'CREATE' || request.operation === 'UPDATE';
    if (!writes || object === undefined || request.subResource) return unassigned(allow(uid));

    const log = (level: 'debug' | 'info', message: string, fields: object = {}): void => {
      this.#log(level, ring, request, message, fields);
    };
    const controllerRing = this.#directory.ring(ring);
    if (controllerRing === undefined) {
      this.#ringShards.delete(ring);
      log('debug', 'unknown ring');
      const warning = `ControllerRing "${ring}" does not exist or this sharder replica has not seen it yet, so the object is not assigned to a shard at admission`;
      return unassigned(allow(uid, { warnings: [warning] }));
    }
    const source = keySource(controllerRing, request);
    if (source === undefined) {
      log('debug', 'resource not in ring');
      const warning = `${resourceName(request.resource)} is not a resource of ControllerRing "${ring}", so the object is not assigned to a shard at admission`;
      return unassigned(allow(uid, { warnings: [warning] }));
    }

    const metadata = object.metadata ?? {};
    const labels = metadata.labels ?? undefined;
    // The objectSelector only lets unlabelled objects through, but a write may race with the selector's view.
    if (labels !== undefined && shardLabel(ring) in labels) return unassigned(allow(uid));

    const namespace = metadata.namespace ?? request.namespace;
    const key = await this.#key({ ...metadata, ...(namespace ? { namespace } : {}) }, source);
    if ('reason' in key) {
      log('debug', 'no hash key', { reason: key.reason });
      // An object without a controller is simply not the ring's; one without a name yet, or whose chain of
      // controllers cannot be followed, needs telling.
      const warnings =
        key.reason === 'NoControllerReference' ? [] : [`ControllerRing "${ring}": ${key.message}`];
      return unassigned(allow(uid, { warnings }));
    }
    // Only the ring's members: a Lease it does not trust, or whose name cannot be a label value (the API server
    // would reject the object with that label, failurePolicy Ignore notwithstanding), is never assigned to.
    const shards = this.#ringShards.of(ring, controllerRing, this.#directory.leases(), this.#now());
    const kept = liveShardRemovedByUpdate(ring, request, shards.available);
    if (kept !== undefined) {
      // Only a drain acknowledgement may take an object from a live shard, and it removes the drain label too:
      // a write that just drops the shard label (kubectl replace, a label edit) must not skip the drain.
      log('info', 'kept the object on its live shard: an update removed its shard label without a drain', {
        shard: kept,
      });
      return { response: allow(uid, { patch: shards.patch(kept, labels) }), result: 'assigned' };
    }
    const shard = shards.hashRing.shardFor(key.key);
    if (shard === undefined) {
      log('debug', 'no shard available', { key: key.key });
      return unassigned(allow(uid));
    }
    log('debug', 'assigned', { key: key.key, shard });
    return { response: allow(uid, { patch: shards.patch(shard, labels) }), result: 'assigned' };
  }

  /**
   * Logs about one request, with its ring, resource and object bound. The child logger is made only for a level
   * that is on: making one serializes its bindings, which would cost more than the rest of a call.
   */
  #log(
    level: 'debug' | 'info',
    ring: string,
    request: AdmissionRequest,
    message: string,
    fields: object,
  ): void {
    if (!this.#logger.isLevelEnabled(level)) return;
    const log = this.#logger.child({
      ring,
      resource: resourceName(request.resource),
      object: objectName(request),
    });
    log[level](fields, message);
  }

  /**
   * The object's hash key; below a chain's first level its root's, read up the chain within the time budget
   * (sharding/chain.ts). A read that fails or takes too long leaves the object to the sync.
   */
  async #key(metadata: KeyMetadataOf<AdmissionRequest>, source: Source): Promise<ChainKeyResult> {
    if (!source.controlled) return hashKey(metadata, source);
    if (source.owners === 'ChainTooDeep') return chainTooDeep(source.resource);
    if (source.owners.length === 0) return hashKey(metadata, source);
    if (this.#readOwner === undefined) {
      const message = `the webhook does not read chains of controllers, so ${source.resource} is assigned on the sharder's next sync`;
      return { reason: 'OwnerNotFound', message };
    }
    try {
      return await chainKey(
        metadata,
        source.owners,
        this.#readOwner(AbortSignal.timeout(this.#chainBudgetMs)),
      );
    } catch (error) {
      const message = `reading the object's chain of controllers failed (${String(error)}), so it is assigned on the sharder's next sync`;
      return { reason: 'OwnerNotFound', message };
    }
  }
}

/** The shard an UPDATE took the object from, if that shard is available and had not been asked to drain it. */
function liveShardRemovedByUpdate(
  ring: string,
  request: AdmissionRequest,
  available: readonly string[],
): string | undefined {
  if (request.operation !== 'UPDATE') return undefined;
  const previous = request.oldObject?.metadata?.labels;
  const shard = previous?.[shardLabel(ring)];
  if (shard === undefined || previous?.[drainLabel(ring)] === drainValue) return undefined;
  return available.includes(shard) ? shard : undefined;
}

function unassigned(response: AdmissionResponse): AdmissionDecision {
  return { response, result: 'unassigned' };
}

/** KeySource, and for a controlled resource the owners above it in its chain (sharding/chain.ts). */
type Source =
  | (KeySource & { readonly controlled: false })
  | {
      readonly controlled: true;
      readonly resource: string;
      readonly owners: LevelOwners;
    };

type KeyMetadataOf<T extends AdmissionRequest> = NonNullable<NonNullable<T['object']>['metadata']>;

/** Where the object's hash key comes from, or undefined if its resource is not one of the ring's. */
function keySource(ring: ControllerRing, request: AdmissionRequest): Source | undefined {
  const { group, resource } = request.resource;
  const matches = (candidate: Pick<RingResource, 'group' | 'resource'>): boolean =>
    (candidate.group ?? '') === group && candidate.resource === resource;
  const { resources } = ring.spec;
  if (resources.some(matches))
    return { controlled: false, group: request.kind.group, kind: request.kind.kind };
  for (const entry of resources) {
    const owners = ownerChain(entry, { group, resource });
    if (owners !== undefined) return { controlled: true, resource: resourceName(request.resource), owners };
  }
  return undefined;
}

function objectName({ object, namespace, name }: AdmissionRequest): string {
  const metadata = object?.metadata;
  const objectName = metadata?.name ?? (name || (metadata?.generateName ?? ''));
  const objectNamespace = metadata?.namespace ?? namespace;
  return objectNamespace ? `${objectNamespace}/${objectName}` : objectName;
}
