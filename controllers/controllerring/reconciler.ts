// The ControllerRing controller: keeps the ring's webhook configuration in sync, reports the ring's status,
// and cleans up behind a finalizer when the ring is deleted.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { ringsPath, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { ringMembership } from '../../sharding/membership.ts';
import { resourceName } from '../../sharding/resource-name.ts';
import { containsFields } from '../../runtime/contains.ts';
import type { Discovery } from '../../runtime/discovery.ts';
import type { Logger } from '../../runtime/logger.ts';
import { ExpectedError } from '../../runtime/expected-error.ts';
import { isConflict, isForbidden, isNotFound, patchTypes, type RestClient } from '../../runtime/rest.ts';
import type { HandlerResult } from '../../runtime/workqueue.ts';
import { assignsByWatch } from '../assignment/watch-plan.ts';
import type { RingEvents } from '../ring-events.ts';
import type { AccessChecker } from './access.ts';
import { removeRingLabels } from './cleanup.ts';
import { LeftOutLeaseLog } from './left-out-leases.ts';
import type { UnresolvedChainsObserver } from '../sync/unresolved-chains.ts';
import { desiredStatus, type RingProblem } from './status.ts';
import {
  desiredWebhookConfiguration,
  ringGroupResources,
  webhookConfigurationName,
  type WebhookConfigurationOptions,
} from './webhook-configuration.ts';

export const cleanupFinalizer = 'sharding.controller-rings.io/cleanup';
export const fieldManager = 'controller-rings-sharder';

/**
 * The verbs the sharder needs on every resource of a ring: the sync lists and patches its objects, and reads
 * one again when its patch conflicted.
 */
const neededVerbs = ['get', 'list', 'patch'] as const;
/** A ring that assigns by watch (spec.assignment: Watch) also watches its unassigned objects. */
const watchNeededVerbs = [...neededVerbs, 'watch'] as const;
/** Problems such as a missing permission are fixed outside the ring: look again after this long. */
const problemRecheckMs = 30_000;

export interface ControllerRingReconcilerOptions {
  ring(name: string): ControllerRing | undefined;
  leases(): Iterable<ILease>;
  webhookConfiguration(name: string): IMutatingWebhookConfiguration | undefined;
  rest: RestClient;
  discovery: Discovery;
  access: AccessChecker;
  webhook: WebhookConfigurationOptions;
  cleanupConcurrency: number;
  /** The watches of the rings that assign by watch (controllers/assignment/), started and stopped from here. */
  assignmentWatches?: RingAssignmentWatches;
  now(): Date;
  logger: Logger;
  /** The ring's Events: its ignored shard Leases. */
  events?: RingEvents;
  /** The last complete sync's objects whose chain of controllers it could not follow: ChainsResolved. */
  chains?: Pick<UnresolvedChainsObserver, 'of' | 'forget'>;
}

/** What the ring controller asks of the webhook-free assignment (controllers/assignment/watchers.ts). */
export interface RingAssignmentWatches {
  /** Runs the watches the ring needs now: none unless it assigns by watch. */
  update(ring: ControllerRing): Promise<void>;
  remove(ring: string): Promise<void>;
}

/** 'a', 'a or b', 'a, b or c'. */
function alternatives(words: readonly string[]): string {
  return words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words.at(-1) ?? ''}`;
}

function ringPath(name: string): string {
  return `${ringsPath}/${name}`;
}

export class ControllerRingReconciler {
  readonly #options: ControllerRingReconcilerOptions;
  readonly #leftOut: LeftOutLeaseLog;

  constructor(options: ControllerRingReconcilerOptions) {
    this.#options = options;
    this.#leftOut = new LeftOutLeaseLog(options.logger, options.events);
  }

  async reconcile(name: string): Promise<HandlerResult | undefined> {
    const ring = this.#options.ring(name);
    if (ring === undefined) {
      this.#leftOut.forget(name);
      this.#options.chains?.forget(name);
      await this.#options.assignmentWatches?.remove(name);
      return undefined;
    }
    const finalizers = ring.metadata?.finalizers ?? [];
    if (ring.metadata?.deletionTimestamp !== undefined) {
      this.#leftOut.forget(name);
      // Before the cleanup removes the ring's labels: the watch would assign the objects again.
      await this.#options.assignmentWatches?.remove(name);
      if (finalizers.includes(cleanupFinalizer)) await this.#cleanUp(ring);
      return undefined;
    }
    if (!finalizers.includes(cleanupFinalizer)) {
      await this.#patchRing(ring, { finalizers: [...finalizers, cleanupFinalizer] });
    }
    let denied: RingProblem | undefined;
    if (assignsByWatch(ring)) await this.#deleteWebhookConfiguration(ring);
    else denied = await this.#applyWebhookConfiguration(ring);
    await this.#options.assignmentWatches?.update(ring);
    const problems = [...(await this.#problems(ring)), ...(denied === undefined ? [] : [denied])];
    const membership = ringMembership(this.#options.leases(), ring, this.#options.now());
    this.#leftOut.report(name, membership.leftOut);
    const chains = this.#options.chains?.of(name);
    const status = desiredStatus(ring, membership, problems, this.#options.now(), chains);
    if (!containsFields(ring.status, status)) {
      await this.#options.rest.request({
        method: 'PATCH',
        path: `${ringPath(name)}/status`,
        contentType: patchTypes.merge,
        body: { status },
      });
    }
    return problems.length > 0 ? { requeueAfter: problemRecheckMs } : undefined;
  }

  /**
   * Applies the ring's webhook configuration; a denial (RBAC, or the admission policies that let the sharder
   * intercept only resources granted to it) is a problem of the ring, reported in its status.
   */
  async #applyWebhookConfiguration(ring: ControllerRing): Promise<RingProblem | undefined> {
    const desired = desiredWebhookConfiguration(ring, this.#options.webhook);
    const name = desired.metadata?.name ?? '';
    if (containsFields(this.#options.webhookConfiguration(name), desired)) return undefined;
    try {
      await this.#options.rest.request({
        method: 'PATCH',
        path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`,
        query: { fieldManager, force: true },
        contentType: patchTypes.apply,
        body: desired,
      });
    } catch (error) {
      if (!isForbidden(error)) throw error;
      return {
        reason: 'WebhookConfigurationDenied',
        message: `the API server denied the ring's webhook configuration: ${error.detail}`,
      };
    }
    this.#options.logger.info(
      { ring: ring.metadata?.name, webhookConfiguration: name },
      'applied webhook configuration',
    );
    return undefined;
  }

  /** A ring that assigns by watch has no webhook configuration: one left from the webhook mode goes. */
  async #deleteWebhookConfiguration(ring: ControllerRing): Promise<void> {
    const name = webhookConfigurationName(ring.metadata?.name ?? '');
    if (this.#options.webhookConfiguration(name) === undefined) return;
    await this.#deleteWebhookConfigurationNamed(name);
    this.#options.logger.info(
      { ring: ring.metadata?.name, webhookConfiguration: name },
      'deleted webhook configuration: the ring assigns by watch',
    );
  }

  async #deleteWebhookConfigurationNamed(name: string): Promise<void> {
    try {
      await this.#options.rest.request({
        method: 'DELETE',
        path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${name}`,
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Resources the API server does not serve, or that the sharder may not list and patch (and watch). */
  async #problems(ring: ControllerRing): Promise<RingProblem[]> {
    const problems: RingProblem[] = [];
    for (const { group, resource } of ringGroupResources(ring)) {
      const qualified = resourceName({ group, resource });
      if ((await this.#options.discovery.resolve(group, resource)) === undefined) {
        problems.push({
          reason: 'ResourceNotFound',
          message: `the API server does not serve ${qualified}: install its CRD or correct spec.resources`,
        });
        continue;
      }
      const verbs = assignsByWatch(ring) ? watchNeededVerbs : neededVerbs;
      const missing = await this.#options.access.missing(group, resource, verbs);
      if (missing.length > 0) {
        problems.push({
          reason: 'Forbidden',
          message: `the sharder may not ${alternatives(missing)} ${qualified}: grant its service account these verbs in a ClusterRole`,
        });
      }
    }
    return problems;
  }

  async #cleanUp(ring: ControllerRing): Promise<void> {
    const name = ring.metadata?.name ?? '';
    const { rest, logger } = this.#options;
    await this.#deleteWebhookConfigurationNamed(webhookConfigurationName(name));
    await removeRingLabels(rest, this.#options.discovery, ring, {
      concurrency: this.#options.cleanupConcurrency,
      logger: logger.child({ ring: name }),
    });
    const finalizers = (ring.metadata?.finalizers ?? []).filter(
      (finalizer) => finalizer !== cleanupFinalizer,
    );
    try {
      await this.#patchRing(ring, { finalizers });
    } catch (error) {
      // A reconcile of the cached ring after an earlier one removed the finalizer: the ring is gone.
      if (isNotFound(error)) return;
      throw error;
    }
    logger.info({ ring: name }, 'cleaned up the deleted ring');
  }

  /**
   * A merge patch of the ring's metadata, failing with a conflict if the ring changed since it was read: an
   * expected failure, as the ring's watch event brings the new version (and the retry reads it).
   */
  async #patchRing(ring: ControllerRing, metadata: { finalizers: string[] }): Promise<void> {
    try {
      await this.#options.rest.request({
        method: 'PATCH',
        path: ringPath(ring.metadata?.name ?? ''),
        contentType: patchTypes.merge,
        body: { metadata: { ...metadata, resourceVersion: ring.metadata?.resourceVersion } },
      });
    } catch (error) {
      if (isConflict(error)) throw new ExpectedError('the ring changed since it was read', { cause: error });
      throw error;
    }
  }
}
