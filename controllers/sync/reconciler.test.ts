// The sync against a stub API server, through the sharder's fenced client: once leadership is not certain
// the sync ends at the first refused patch and sends no other.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { drainLabel, ringLabel, shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { canaryBucket, SplitHashRing } from '../../sharding/canary.ts';
import { HashRing } from '../../sharding/ring.ts';
import type { Discovery, ResourceInfo } from '../../runtime/discovery.ts';
import { FencedClient, isFenced } from '../../runtime/fence.ts';
import type { Fence } from '../../runtime/leader-election.ts';
import { createLogger } from '../../runtime/logger.ts';
import { microTime } from '../../runtime/micro-time.ts';
import { startHttpsStub, type HttpsStub } from '../../test/support/https-stub.ts';
import { SyncReconciler, type SyncObserver, type SyncReport } from './reconciler.ts';

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
const secrets: ResourceInfo = { ...configMaps, resource: 'secrets', kind: 'Secret' };
const lease = (name: string): ILease => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, namespace: 'shards', labels: { [ringLabel]: ring } },
  spec: { holderIdentity: name, leaseDurationSeconds: 15, renewTime: microTime(now) },
});
/** The label that makes a shard a canary shard of the rings below with spec.canary. */
const canaryLabels = { 'app.kubernetes.io/version': 'v2' };
const canaryLease = (name: string): ILease => {
  const plain = lease(name);
  return {
    ...plain,
    metadata: { ...plain.metadata, labels: { ...plain.metadata?.labels, ...canaryLabels } },
  };
};
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

/**
 * The sync of `controllerRing` (or its current spec) with shards a and b (or `shards()`: names, or Leases), its
 * objects read through `rest`.
 */
function syncOf(
  controllerRing: ControllerRing | (() => ControllerRing),
  rest: FencedClient,
  shards: () => (string | ILease)[] = () => ['a', 'b'],
  observers: readonly SyncObserver[] = [],
): SyncReconciler {
  return new SyncReconciler({
    ring: typeof controllerRing === 'function' ? controllerRing : () => controllerRing,
    leases: () => shards().map((shard) => (typeof shard === 'string' ? lease(shard) : shard)),
    namespace: () => ({ metadata: { name: 'default', labels: {} } }),
    rest,
    discovery: {
      resolve: (_group: string, resource: string) =>
        Promise.resolve(resource === 'secrets' ? secrets : configMaps),
    } as unknown as Discovery,
    excludedNamespaces: [],
    concurrency: 3,
    syncPeriodMs: 60_000,
    retryAfterMs: 1_000,
    now: () => now,
    logger: createLogger({ level: 'silent' }),
    observers,
  });
}

/** An observer that keeps what it is told. */
class Recorder implements SyncObserver {
  readonly begun: { shards: readonly string[]; previous: readonly string[] | undefined }[] = [];
  readonly actions: string[] = [];
  readonly reports: SyncReport[] = [];

  started(_ring: string, shards: readonly string[], previous: readonly string[] | undefined): void {
    this.begun.push({ shards, previous });
  }

  acted(_ring: string, action: 'move' | 'drain'): void {
    this.actions.push(action);
  }

  finished(report: SyncReport): void {
    this.reports.push(report);
  }
}

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
    const sync = syncOf(controllerRing, rest);
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

describe('the sync of a ring with controlled resources', () => {
  const hashRing = new HashRing(['a', 'b']);
  // Owners on the dead shard d and on the live shard a, each with a Secret on its owner's shard.
  const owners = Array.from({ length: 40 }, (_, i) => ({
    metadata: {
      name: `cm-${i}`,
      namespace: 'default',
      uid: `uid-${i}`,
      resourceVersion: '1',
      labels: { [shardLabel(ring)]: i % 2 === 0 ? 'd' : 'a' },
    },
  }));
  const controlled = owners.map(({ metadata }) => ({
    metadata: {
      name: `${metadata.name}-digest`,
      namespace: 'default',
      resourceVersion: '1',
      labels: metadata.labels,
      ownerReferences: [
        { apiVersion: 'v1', kind: 'ConfigMap', name: metadata.name, uid: metadata.uid, controller: true },
      ],
    },
  }));
  const onB = owners.filter(
    ({ metadata }) =>
      metadata.labels[shardLabel(ring)] === 'a' &&
      hashRing.shardFor(`/ConfigMap/default/${metadata.name}`) === 'b',
  ).length;

  it('moves and drains controlled objects before their owners, each on its own like any object', async () => {
    expect(onB).toBeGreaterThan(3);
    const patched: { path: string; labels: Record<string, string | null> }[] = [];
    const resources = await startHttpsStub((request, body, response) => {
      response.setHeader('content-type', 'application/json');
      const path = request.url?.split('?')[0] ?? '';
      if (request.method === 'PATCH') {
        const patch = JSON.parse(body) as { metadata: { labels: Record<string, string | null> } };
        patched.push({ path, labels: patch.metadata.labels });
        response.end('{}');
        return;
      }
      const items = path.endsWith('/secrets') ? controlled : owners;
      response.end(JSON.stringify({ metadata: {}, items }));
    });
    const rest = new FencedClient(resources.kubeConfig, 'test', {
      certain: true,
      lost: new AbortController().signal,
      reason: '',
    });
    const controllerRing: ControllerRing = {
      metadata: { name: ring },
      spec: {
        resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
        shardLeaseNamespaces: ['shards'],
      },
    };
    const recorder = new Recorder();
    const sync = syncOf(controllerRing, rest, undefined, [recorder]);
    try {
      // Nothing waits: the sync does not look again before its period.
      expect(await sync.reconcile(ring)).toEqual({ requeueAfter: 60_000 });
      // A second sync (the stub answers the same lists), for what it is told: the patches below are the first's.
      const patchesOfFirst = patched.length;
      await sync.reconcile(ring);
      patched.splice(patchesOfFirst);
    } finally {
      rest.close();
      await resources.close();
    }
    const lastSecret = patched.findLastIndex(({ path }) => path.includes('/secrets/'));
    const firstConfigMap = patched.findIndex(({ path }) => path.includes('/configmaps/'));
    expect(lastSecret).toBeLessThan(firstConfigMap);
    // Every object of d moves; on the live shard a, the Secrets are drained as their owners are.
    const drained = (resource: string) =>
      patched.filter(
        ({ path, labels }) => path.includes(`/${resource}/`) && labels[drainLabel(ring)] === 'true',
      );
    const moved = (resource: string) =>
      patched.filter(
        ({ path, labels }) => path.includes(`/${resource}/`) && labels[drainLabel(ring)] === null,
      );
    for (const resource of ['secrets', 'configmaps']) {
      expect({ resource, moved: moved(resource).length, drained: drained(resource).length }).toEqual({
        resource,
        moved: 20,
        drained: onB,
      });
    }
    // The second sync is told the first's shards.
    expect(recorder.begun).toEqual([
      { shards: ['a', 'b'], previous: undefined },
      { shards: ['a', 'b'], previous: ['a', 'b'] },
    ]);
    expect(recorder.actions.filter((action) => action === 'move')).toHaveLength(2 * 2 * 20);
    expect(recorder.reports[0]).toMatchObject({
      ring,
      shards: ['a', 'b'],
      previousShards: undefined,
      examined: 80,
      moved: 40,
      drained: 2 * onB,
      unassigned: 0,
      pending: 0,
    });
    expect(recorder.reports[0]?.error).toBeUndefined();
  });

  it('reports the objects it leaves unassigned when no shard is available', async () => {
    const unlabelled = owners.map(({ metadata }) => ({ metadata: { ...metadata, labels: {} } }));
    const resources = await startHttpsStub((request, _body, response) => {
      response.setHeader('content-type', 'application/json');
      const path = request.url?.split('?')[0] ?? '';
      // Half the owners have no label, the other half are on the dead shard d; none has a Secret.
      const items = path.endsWith('/secrets') ? [] : [...unlabelled.slice(0, 20), ...owners.slice(20)];
      response.end(JSON.stringify({ metadata: {}, items }));
    });
    const rest = new FencedClient(resources.kubeConfig, 'test', {
      certain: true,
      lost: new AbortController().signal,
      reason: '',
    });
    const recorder = new Recorder();
    const controllerRing: ControllerRing = {
      metadata: { name: ring },
      spec: { resources: [{ resource: 'configmaps' }], shardLeaseNamespaces: ['shards'] },
    };
    try {
      await syncOf(controllerRing, rest, () => [], [recorder]).reconcile(ring);
    } finally {
      rest.close();
      await resources.close();
    }
    expect(recorder.reports).toMatchObject([
      { shards: [], examined: 40, moved: 0, drained: 0, unassigned: 20, pending: 0 },
    ]);
  });
});

describe('membership changes during a sync', () => {
  const controllerRing: ControllerRing = {
    metadata: { name: ring },
    spec: { resources: [{ resource: 'configmaps' }], shardLeaseNamespaces: ['shards'] },
  };
  const certain: Fence = { certain: true, lost: new AbortController().signal, reason: '' };

  it('call for another sync only when they change the available shards of the sync under way', async () => {
    let answerList = (): void => undefined;
    const listed = new Promise<void>((resolve) => {
      answerList = resolve;
    });
    const resources = await startHttpsStub((request, _body, response) => {
      response.setHeader('content-type', 'application/json');
      if (request.method === 'PATCH') response.end('{}');
      else void listed.then(() => response.end(JSON.stringify({ metadata: {}, items: [] })));
    });
    const rest = new FencedClient(resources.kubeConfig, 'test', certain);
    let shards = ['a', 'b'];
    const sync = syncOf(controllerRing, rest, () => shards);
    try {
      expect(sync.membershipChanged(ring)).toBe(true);
      const running = sync.reconcile(ring);
      // A Lease event while the sync lists, with the same available shards (a renewal): nothing to do.
      expect(sync.membershipChanged(ring)).toBe(false);
      shards = ['a', 'b', 'c'];
      expect(sync.membershipChanged(ring)).toBe(true);
      shards = ['a', 'b'];
      answerList();
      await running;
      expect(sync.membershipChanged(ring)).toBe(false);
    } finally {
      rest.close();
      await resources.close();
    }
  });

  it('call for a sync at once after a sync that failed', async () => {
    const resources = await startHttpsStub((_request, _body, response) => {
      response.statusCode = 500;
      response.end('{}');
    });
    const rest = new FencedClient(resources.kubeConfig, 'test', certain);
    const recorder = new Recorder();
    const sync = syncOf(controllerRing, rest, undefined, [recorder]);
    try {
      await expect(sync.reconcile(ring)).rejects.toThrow();
      expect(sync.membershipChanged(ring)).toBe(true);
      // The failed sync is reported with its error, and the next is not told of its shards.
      expect(recorder.reports[0]?.error).toBeDefined();
      await expect(sync.reconcile(ring)).rejects.toThrow();
      expect(recorder.begun[1]?.previous).toBeUndefined();
    } finally {
      rest.close();
      await resources.close();
    }
  });
});

describe('the sync of a ring with canary shards', () => {
  const canaryRing = (percent: number): ControllerRing => ({
    metadata: { name: ring },
    spec: {
      resources: [{ resource: 'configmaps' }],
      shardLeaseNamespaces: ['shards'],
      canary: { shardSelector: { matchLabels: canaryLabels }, percent },
    },
  });
  const certain: Fence = { certain: true, lost: new AbortController().signal, reason: '' };

  it('drains the objects whose shard under the split is another one, and only those', async () => {
    const drained: string[] = [];
    const resources = await startHttpsStub((request, _body, response) => {
      response.setHeader('content-type', 'application/json');
      if (request.method === 'PATCH') {
        drained.push(request.url?.split('?')[0]?.split('/').at(-1) ?? '');
        response.end('{}');
      } else response.end(JSON.stringify({ metadata: {}, items: objects }));
    });
    const rest = new FencedClient(resources.kubeConfig, 'test', certain);
    try {
      // All objects are on a; b is stable too, canary-c takes 50 %.
      await syncOf(canaryRing(50), rest, () => ['a', 'b', canaryLease('canary-c')]).reconcile(ring);
    } finally {
      rest.close();
      await resources.close();
    }
    const split = new SplitHashRing({ percent: 50, canary: ['canary-c'], stable: ['a', 'b'] });
    const expected = objects
      .map(({ metadata }) => metadata.name)
      .filter((name) => split.shardFor(`/ConfigMap/default/${name}`) !== 'a');
    const toCanary = objects.filter(
      ({ metadata }) => canaryBucket(`/ConfigMap/default/${metadata.name}`) < 50,
    );
    expect(toCanary.length).toBeGreaterThan(30);
    expect(expected.length).toBeGreaterThan(toCanary.length);
    expect(drained.sort()).toEqual(expected.sort());
  });

  it('call for a sync when a shard changes side, or the percent changes, with the same shards', async () => {
    const resources = await startHttpsStub((_request, _body, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ metadata: {}, items: [] }));
    });
    const rest = new FencedClient(resources.kubeConfig, 'test', certain);
    let shards = ['a', canaryLease('b')];
    let percent = 10;
    const sync = syncOf(
      () => canaryRing(percent),
      rest,
      () => shards,
    );
    try {
      await sync.reconcile(ring);
      expect(sync.membershipChanged(ring)).toBe(false);
      // b's Lease loses the canary label: the same names, another split.
      shards = ['a', lease('b')];
      expect(sync.membershipChanged(ring)).toBe(true);
      await sync.reconcile(ring);
      expect(sync.membershipChanged(ring)).toBe(false);
      percent = 50;
      expect(sync.membershipChanged(ring)).toBe(true);
    } finally {
      rest.close();
      await resources.close();
    }
  });
});

describe('a chain of controllers (Deployment → ReplicaSet → Pod)', () => {
  const info = (group: string, resource: string, kind: string): ResourceInfo => ({
    ...configMaps,
    group,
    resource,
    kind,
  });
  const byResource: Record<string, ResourceInfo> = {
    deployments: info('apps', 'deployments', 'Deployment'),
    replicasets: info('apps', 'replicasets', 'ReplicaSet'),
    pods: info('', 'pods', 'Pod'),
  };
  const controllerRing: ControllerRing = {
    metadata: { name: ring },
    spec: {
      resources: [
        {
          group: 'apps',
          resource: 'deployments',
          controlledResources: [
            { group: 'apps', resource: 'replicasets' },
            { group: '', resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
          ],
        },
      ],
      shardLeaseNamespaces: ['shards'],
    },
  };
  const controller = (apiVersion: string, kind: string, name: string) => [
    { apiVersion, kind, name, uid: `uid-${name}`, controller: true },
  ];
  const unlabelled = (name: string, ownerReferences?: object[]) => ({
    metadata: { name, namespace: 'default', uid: `uid-${name}`, resourceVersion: '1', ownerReferences },
  });
  // 10 Deployments with a ReplicaSet each and 5 Pods per ReplicaSet; one more Pod whose ReplicaSet is gone.
  const deployments = Array.from({ length: 10 }, (_, i) => unlabelled(`web-${i}`));
  const replicaSets = deployments.map(({ metadata }) =>
    unlabelled(`${metadata.name}-rs`, controller('apps/v1', 'Deployment', metadata.name)),
  );
  const pods = [
    ...replicaSets.flatMap(({ metadata }) =>
      Array.from({ length: 5 }, (_, i) =>
        unlabelled(`${metadata.name}-${i}`, controller('apps/v1', 'ReplicaSet', metadata.name)),
      ),
    ),
    unlabelled('orphan', controller('apps/v1', 'ReplicaSet', 'gone')),
  ];

  it('lists the deepest level first and gives every level its root’s shard, reading each owner once', async () => {
    const listed: string[] = [];
    const reads: string[] = [];
    const patched: { path: string; shard: string | null | undefined }[] = [];
    const api = await startHttpsStub((request, body, response) => {
      response.setHeader('content-type', 'application/json');
      const path = request.url?.split('?')[0] ?? '';
      const resource = path.split('/').at(-1) ?? '';
      if (request.method === 'PATCH') {
        const patch = JSON.parse(body) as { metadata: { labels: Record<string, string | null> } };
        patched.push({ path, shard: patch.metadata.labels[shardLabel(ring)] });
        response.end('{}');
        return;
      }
      const lists: Record<string, object[]> = { deployments, replicasets: replicaSets, pods };
      const items = lists[resource];
      if (items !== undefined) {
        listed.push(resource);
        response.end(JSON.stringify({ metadata: {}, items }));
        return;
      }
      // A GET of one object: /apis/apps/v1/namespaces/default/replicasets/<name>.
      reads.push(path);
      const found = replicaSets.find(({ metadata }) => path.endsWith(`/replicasets/${metadata.name}`));
      if (found === undefined) {
        response.statusCode = 404;
        response.end(JSON.stringify({ kind: 'Status', code: 404, reason: 'NotFound' }));
        return;
      }
      response.end(JSON.stringify(found));
    });
    const rest = new FencedClient(api.kubeConfig, 'test', {
      certain: true,
      lost: new AbortController().signal,
      reason: '',
    });
    const recorder = new Recorder();
    const sync = new SyncReconciler({
      ring: () => controllerRing,
      leases: () => ['a', 'b', 'c'].map(lease),
      namespace: () => ({ metadata: { name: 'default', labels: {} } }),
      rest,
      discovery: {
        resolve: (_group: string, resource: string) => Promise.resolve(byResource[resource]),
      } as unknown as Discovery,
      excludedNamespaces: [],
      concurrency: 3,
      syncPeriodMs: 60_000,
      retryAfterMs: 1_000,
      now: () => now,
      logger: createLogger({ level: 'silent' }),
      observers: [recorder],
    });
    try {
      await sync.reconcile(ring);
    } finally {
      rest.close();
      await api.close();
    }
    expect(listed).toEqual(['pods', 'replicasets', 'deployments']);
    // One read per ReplicaSet (and one for the missing one), not one per Pod.
    expect(reads).toHaveLength(11);
    const hashRing = new HashRing(['a', 'b', 'c']);
    const rootOf = (path: string): string => /web-\d+/.exec(path)?.[0] ?? '';
    expect(patched).toHaveLength(10 + 10 + 50);
    for (const { path, shard } of patched) {
      expect({ path, shard }).toEqual({
        path,
        shard: hashRing.shardFor(`apps/Deployment/default/${rootOf(path)}`),
      });
    }
    expect(new Set(patched.map(({ shard }) => shard)).size).toBeGreaterThan(1);
    expect(recorder.reports).toMatchObject([
      {
        examined: 70,
        moved: 70,
        unresolved: 1,
        // For the ring's ChainsResolved condition: which resource, how many, and the first one and why.
        unresolvedChains: [
          {
            resource: 'pods',
            count: 1,
            object: 'default/orphan',
            reason: 'OwnerNotFound',
            message: expect.stringContaining(
              'its controller ReplicaSet default/gone (uid uid-gone)',
            ) as unknown,
          },
        ],
      },
    ]);
  });
});
