// kubectl rings describe RING: what the ring's shards are now and what they own. The shards and their states
// are computed from their Leases as the sharder computes them (sharding/membership.ts, sharding/lease.ts), not
// read from the ring's status, which is only as fresh as the sharder's last write. Objects are counted with
// metadata-only lists selected by the ring's labels, a page at a time: never a full object.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import {
  chainsResolvedCondition,
  drainLabel,
  drainValue,
  kind,
  readyCondition,
  ringLabel,
  shardLabel,
  type Condition,
  type ControllerRing,
} from '../../api/v1alpha1/index.ts';
import { webhookConfigurationName } from '../../controllers/controllerring/webhook-configuration.ts';
import { forEachConcurrently } from '../../runtime/concurrency.ts';
import { clusterScopedEventNamespace } from '../../runtime/event-namespace.ts';
import { collectionPath, Discovery, type ResourceInfo } from '../../runtime/discovery.ts';
import { listMetadata, listPages } from '../../runtime/pager.ts';
import { isForbidden, isNotFound, type RestClient } from '../../runtime/rest.ts';
import { hashKey, type KeySource } from '../../sharding/keys.ts';
import { matchesSelector, type LabelSelector } from '../../sharding/label-selector.ts';
import { isAvailable, type ShardState } from '../../sharding/lease.ts';
import { ringMembership, type LeftOutLease } from '../../sharding/membership.ts';
import { resourceName } from '../../sharding/resource-name.ts';
import { getRing } from './rings.ts';

/** What one shard owns of one resource. */
export interface OwnedObjects {
  /** Objects labelled with the shard's name. */
  owned: number;
  /** Of those, the ones the sharder has asked the shard to let go of (the drain label). */
  draining: number;
}

export interface ShardDescription {
  name: string;
  /** The namespace of its Lease. */
  namespace: string;
  state: ShardState;
  /** Whether objects may be assigned to it (ready, expired or uncertain). */
  available: boolean;
  /** True when its Lease matches the ring's spec.canary.shardSelector. */
  canary?: true;
  holderIdentity?: string;
  creationTimestamp?: string;
  renewTime?: string;
  /** By resource (`configmaps`, `deployments.apps`); only the resources the API server serves. */
  objects: Record<string, OwnedObjects>;
}

export interface ResourceDescription {
  /** As kubectl names it: `configmaps`, `deployments.apps`. */
  name: string;
  group: string;
  resource: string;
  /** A controlled resource: its objects go where their controller goes. */
  controlled: boolean;
  /** For a level of a chain of controllers: its owner's resource, as `name` (else the ring resource owns it). */
  owner?: string;
  /** Whether the API server serves it; the counts are only there when it does. */
  served: boolean;
  /** Objects of the ring (in a namespace it selects, with a hash key) that carry no shard label. */
  unassigned?: number;
  /** Objects labelled with a shard that is not one of the ring's shards (a Lease gone or ignored). */
  otherShards?: number;
}

type ConditionDescription = Pick<Condition, 'status' | 'reason' | 'message' | 'lastTransitionTime'>;

export interface RingDescription {
  name: string;
  ready?: ConditionDescription;
  /** The ChainsResolved condition, on a ring with chains of controllers. */
  chainsResolved?: ConditionDescription;
  generation?: number;
  observedGeneration?: number;
  creationTimestamp?: string;
  shards: ShardDescription[];
  /** The ring's spec.canary: the percent of its objects for the canary shards. */
  canary?: { percent: number };
  resources: ResourceDescription[];
  /** Leases labelled for the ring that are not its shards, and why. */
  ignoredLeases: LeftOutLease[];
  /** The ring's Events (docs/events.md), oldest first; absent when the user may not list them. */
  events?: RingEventDescription[];
}

/** One Event of the ring, as kubectl describe shows it. */
export interface RingEventDescription {
  type: string;
  reason: string;
  note: string;
  /** Its reportingController. */
  from: string;
  /** When it first and last happened, and how often (its series' count, else 1). */
  firstTime: string;
  lastTime: string;
  count: number;
}

interface EventObject {
  type?: string;
  reason?: string;
  note?: string;
  reportingController?: string;
  eventTime?: string;
  series?: { count: number; lastObservedTime: string };
}

interface RingResource {
  group: string;
  resource: string;
  controlled: boolean;
  owner?: string;
}

const leasesPath = '/apis/coordination.k8s.io/v1/leases';
// The shards' lists of one resource run side by side, a few at a time: a ring of many shards is counted
// without waiting for each list in turn, and without a burst of requests at the API server.
const concurrentLists = 4;

/** The ring's resources, then their controlled resources: each once. */
function ringResources(ring: ControllerRing): RingResource[] {
  const all = ring.spec.resources.flatMap(({ group = '', resource, controlledResources = [] }) => [
    { group, resource, controlled: false },
    ...controlledResources.map((controlled) => ({
      group: controlled.group ?? '',
      resource: controlled.resource,
      controlled: true,
      ...(controlled.owner === undefined
        ? {}
        : {
            owner: resourceName({ group: controlled.owner.group ?? '', resource: controlled.owner.resource }),
          }),
    })),
  ]);
  return all.filter(
    (entry, index) => all.findIndex((other) => resourceName(other) === resourceName(entry)) === index,
  );
}

async function shardLeases(rest: RestClient, ring: string): Promise<ILease[]> {
  const leases: ILease[] = [];
  for await (const page of listPages<ILease>(rest, leasesPath, { labelSelector: `${ringLabel}=${ring}` }))
    leases.push(...(page.items ?? []));
  return leases;
}

/**
 * The namespaces whose objects the ring shards, as the sharder selects them: the namespaceSelector of the
 * ring's webhook configuration, which adds the namespaces the sharder excludes (its own and kube-system) to
 * the ring's; the ring's own where that configuration cannot be read (no sharder, or no access to it).
 */
async function namespaceSelector(rest: RestClient, ring: ControllerRing): Promise<LabelSelector> {
  const path = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${webhookConfigurationName(ring.metadata?.name ?? '')}`;
  try {
    const configuration = await rest.request<IMutatingWebhookConfiguration>({ path });
    const selector = configuration.webhooks?.[0]?.namespaceSelector;
    if (selector !== undefined) return selector;
  } catch (error) {
    if (!isNotFound(error) && !isForbidden(error)) throw error;
  }
  return ring.spec.namespaceSelector ?? {};
}

/** Counts the objects of a label-selected, metadata-only list, and those of them that are draining. */
async function count(
  rest: RestClient,
  path: string,
  labelSelector: string,
  drain: string,
): Promise<OwnedObjects> {
  const counted = { owned: 0, draining: 0 };
  for await (const { metadata } of listMetadata(rest, path, { labelSelector })) {
    counted.owned++;
    if (metadata.labels?.[drain] === drainValue) counted.draining++;
  }
  return counted;
}

export async function describeRing(rest: RestClient, name: string, now: Date): Promise<RingDescription> {
  const ring = await getRing(rest, name);
  const leases = await shardLeases(rest, name);
  const { members, leftOut } = ringMembership(leases, ring, now);
  const shard = shardLabel(name);
  const drain = drainLabel(name);
  const shards: ShardDescription[] = members.map((member) => {
    const lease = leases.find(
      ({ metadata }) => metadata?.name === member.name && metadata.namespace === member.namespace,
    );
    return {
      name: member.name,
      namespace: member.namespace,
      state: member.state,
      available: isAvailable(member.state),
      ...(member.canary === true ? { canary: true as const } : {}),
      ...defined({
        holderIdentity: lease?.spec?.holderIdentity,
        creationTimestamp: lease?.metadata?.creationTimestamp,
        renewTime: lease?.spec?.renewTime,
      }),
      objects: {},
    };
  });

  const discovery = new Discovery(rest);
  const resources: ResourceDescription[] = [];
  let inScope: ((metadata: IObjectMeta) => boolean) | undefined;
  for (const entry of ringResources(ring)) {
    const described: ResourceDescription = { name: resourceName(entry), ...entry, served: false };
    resources.push(described);
    const info = await discovery.resolve(entry.group, entry.resource);
    if (info === undefined) continue;
    described.served = true;
    const path = collectionPath(info);
    await forEachConcurrently(shards, concurrentLists, async (member) => {
      member.objects[described.name] = await count(rest, path, `${shard}=${member.name}`, drain);
    });
    // Label values of members are valid label values (ringMembership), so they can be listed in a selector.
    const others =
      shards.length === 0 ? shard : `${shard},${shard} notin (${shards.map((s) => s.name).join(',')})`;
    described.otherShards = (await count(rest, path, others, drain)).owned;
    inScope ??= await scope(rest, ring);
    described.unassigned = await unassigned(rest, path, info, entry.controlled, inScope, shard);
  }
  return {
    name,
    ...defined({
      ready: condition(ring, readyCondition),
      chainsResolved: condition(ring, chainsResolvedCondition),
      generation: ring.metadata?.generation,
      observedGeneration: ring.status?.observedGeneration,
      creationTimestamp: ring.metadata?.creationTimestamp,
    }),
    shards,
    ...(ring.spec.canary === undefined ? {} : { canary: { percent: ring.spec.canary.percent ?? 0 } }),
    resources,
    ignoredLeases: [...leftOut],
    ...defined({ events: await ringEvents(rest, ring) }),
  };
}

/**
 * The Events regarding the ring, selected as kubectl describe selects them (kind, name, uid); a ring is
 * cluster-scoped, so they are in `default`. Undefined if the user may not list them, as kubectl describe then
 * leaves them out.
 */
async function ringEvents(
  rest: RestClient,
  ring: ControllerRing,
): Promise<RingEventDescription[] | undefined> {
  const { name = '', uid = '' } = ring.metadata ?? {};
  let items: EventObject[];
  try {
    ({ items } = await rest.request<{ items: EventObject[] }>({
      path: `/apis/events.k8s.io/v1/namespaces/${clusterScopedEventNamespace}/events`,
      query: {
        fieldSelector: `regarding.kind=${kind},regarding.name=${name},regarding.uid=${uid}`,
      },
    }));
  } catch (error) {
    if (isForbidden(error)) return undefined;
    throw error;
  }
  return items
    .map((event) => ({
      type: event.type ?? '',
      reason: event.reason ?? '',
      note: event.note ?? '',
      from: event.reportingController ?? '',
      firstTime: event.eventTime ?? '',
      lastTime: event.series?.lastObservedTime ?? event.eventTime ?? '',
      count: event.series?.count ?? 1,
    }))
    .sort((a, b) => Date.parse(a.lastTime) - Date.parse(b.lastTime));
}

/** Whether an object is in a namespace the ring shards (a cluster-scoped one always is, as for the webhook). */
async function scope(rest: RestClient, ring: ControllerRing): Promise<(metadata: IObjectMeta) => boolean> {
  const selector = await namespaceSelector(rest, ring);
  const selected = new Set<string>();
  for await (const { metadata } of listMetadata(rest, '/api/v1/namespaces')) {
    if (metadata.name !== undefined && matchesSelector(selector, metadata.labels))
      selected.add(metadata.name);
  }
  return ({ namespace }) => namespace === undefined || namespace === '' || selected.has(namespace);
}

/** Objects without the shard label that the sharder's sync would assign: in scope, with a hash key. */
async function unassigned(
  rest: RestClient,
  path: string,
  info: ResourceInfo,
  controlled: boolean,
  inScope: (metadata: IObjectMeta) => boolean,
  shard: string,
): Promise<number> {
  const source: KeySource = controlled
    ? { controlled: true }
    : { controlled: false, group: info.group, kind: info.kind };
  let total = 0;
  for await (const { metadata } of listMetadata(rest, path, { labelSelector: `!${shard}` })) {
    if (inScope(metadata) && 'key' in hashKey(metadata, source)) total++;
  }
  return total;
}

function condition(ring: ControllerRing, type: string): ConditionDescription | undefined {
  const found = ring.status?.conditions?.find((condition) => condition.type === type);
  if (found === undefined) return undefined;
  const { status, reason, message, lastTransitionTime } = found;
  return { status, reason, message, lastTransitionTime };
}

/** `fields` without the undefined ones, so that -o json|yaml leaves out what is not known. */
function defined<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as Partial<T>;
}
