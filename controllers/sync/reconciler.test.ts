// The sync against a stub API server, through the sharder's fenced client: once leadership is not certain
// the sync ends at the first refused patch and sends no other.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { ringLabel, shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import type { Discovery, ResourceInfo } from '../../runtime/discovery.ts';
import { FencedClient, isFenced } from '../../runtime/fence.ts';
import type { Fence } from '../../runtime/leader-election.ts';
import { createLogger } from '../../runtime/logger.ts';
import { microTime } from '../../runtime/micro-time.ts';
import { startHttpsStub, type HttpsStub } from '../../test/support/https-stub.ts';
import { SyncReconciler } from './reconciler.ts';

const ring = 'r';
const now = new Date();
const configMaps: ResourceInfo = {
  group: '',
  version: 'v1',
  resource: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
  verbs: ['get', 'list', 'patch'],
};
const lease = (name: string): ILease => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, namespace: 'shards', labels: { [ringLabel]: ring } },
  spec: { holderIdentity: name, leaseDurationSeconds: 15, renewTime: microTime(now) },
});
// All on shard a; with b in the ring about half of them are to be drained.
const objects = Array.from({ length: 100 }, (_, i) => ({
  metadata: {
    name: `cm-${i}`,
    namespace: 'default',
    resourceVersion: '1',
    labels: { [shardLabel(ring)]: 'a' },
  },
}));
const drains = objects.filter(
  ({ metadata }) => new HashRing(['a', 'b']).shardFor(`/ConfigMap/default/${metadata.name}`) === 'b',
).length;

let stub: HttpsStub;
const patches: string[] = [];

beforeAll(async () => {
  stub = await startHttpsStub((request, _body, response) => {
    response.setHeader('content-type', 'application/json');
    if (request.method === 'PATCH') patches.push(request.url ?? '');
    response.end(request.method === 'GET' ? JSON.stringify({ metadata: {}, items: objects }) : '{}');
  });
});

afterAll(async () => {
  await stub.close();
});

describe('the sync through the fenced client', () => {
  it('stops at the first refused patch', async () => {
    expect(drains).toBeGreaterThan(20);
    const lost = new AbortController();
    // Leadership becomes uncertain once the API server has received 5 patches.
    const fence: Fence = {
      get certain() {
        return patches.length < 5;
      },
      lost: lost.signal,
      reason: 'leadership lost: test',
    };
    const rest = new FencedClient(stub.kubeConfig, 'test', fence);
    const controllerRing: ControllerRing = {
      metadata: { name: ring },
      spec: { resources: [{ resource: 'configmaps' }], shardLeaseNamespaces: ['shards'] },
    };
    const sync = new SyncReconciler({
      ring: () => controllerRing,
      leases: () => [lease('a'), lease('b')],
      namespace: () => ({ metadata: { name: 'default', labels: {} } }),
      rest,
      discovery: { resolve: () => Promise.resolve(configMaps) } as unknown as Discovery,
      excludedNamespaces: [],
      concurrency: 3,
      syncPeriodMs: 60_000,
      retryAfterMs: 1_000,
      now: () => now,
      logger: createLogger({ level: 'silent' }),
    });
    const outcome = await sync.reconcile(ring).then(
      () => 'completed',
      (error: unknown) => (isFenced(error) ? 'refused' : String(error)),
    );
    expect(outcome).toBe('refused');
    // The patches in flight when the fence turned may complete; none is sent after.
    expect(patches.length).toBeGreaterThanOrEqual(5);
    expect(patches.length).toBeLessThan(5 + 3);
    rest.close();
  });
});
