// Canary shards (spec.canary) with a real sharder on a real API server: objects land by the split, changing the
// percent drains exactly the objects whose side changed, a shard whose Lease changes label switches side, and the
// ring's status counts both groups. Shards are FakeShards (their Leases kept by the test, labelled as the shard
// library's leaseLabels label them) that acknowledge drains only when the test does, so every step is exact.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { drainLabel, ringsPath, shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { canaryBucket, SplitHashRing } from '../../sharding/canary.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { configMapsPath, createConfigMap, webhookEffective } from '../support/configmap-rings.ts';
import { eventually } from '../support/eventually.ts';
import { joinFakeShard, type FakeShard } from '../support/fake-shard.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing, listObjects, type Labelled } from '../support/rings.ts';
import {
  quickLeaderElection,
  startSharder,
  webhookCertificates,
  type SharderProcess,
} from '../support/sharder.ts';

let cluster: TestCluster | undefined;
let rest: RestClient;
let sharder: SharderProcess | undefined;
const shards: FakeShard[] = [];
const ring = 'canary';
const namespace = 'canary-objects';
const shardNamespace = 'shards';
const version = 'app.kubernetes.io/version';
const v1 = { [version]: 'v1' };
const v2 = { [version]: 'v2' };
const objects = Array.from({ length: 120 }, (_, i) => `object-${i}`);
const key = (name: string): string => `/ConfigMap/${namespace}/${name}`;
const shardKey = shardLabel(ring);
const drainKey = drainLabel(ring);

/** The shard of each object under `percent` with these shards on each side. */
function desired(percent: number, canary: string[], stable: string[]): Map<string, string | undefined> {
  const split = new SplitHashRing({ percent, canary, stable });
  return new Map(objects.map((name) => [name, split.shardFor(key(name))]));
}

async function setPercent(percent: number): Promise<void> {
  await rest.request({
    method: 'PATCH',
    path: `${ringsPath}/${ring}`,
    contentType: 'application/merge-patch+json',
    body: { spec: { canary: { percent } } },
  });
}

/** The objects' shard and drain labels, once `drained` of them carry the drain label. */
async function drainedObjects(drained: number): Promise<Labelled[]> {
  return eventually(async () => {
    const listed = await listObjects(rest, configMapsPath(namespace));
    expect(listed.filter((o) => o.metadata.labels?.[drainKey] === 'true')).toHaveLength(drained);
    return listed;
  });
}

/** Acknowledges the drains as a shard does (both labels removed); returns the shards the webhook gave. */
async function acknowledge(listed: Labelled[]): Promise<Map<string, string | undefined>> {
  const assigned = new Map<string, string | undefined>();
  for (const object of listed.filter((o) => o.metadata.labels?.[drainKey] === 'true')) {
    const name = object.metadata.name ?? '';
    const updated = await rest.request<Labelled>({
      method: 'PATCH',
      path: `${configMapsPath(namespace)}/${name}`,
      contentType: 'application/merge-patch+json',
      body: {
        metadata: {
          resourceVersion: object.metadata.resourceVersion,
          labels: { [shardKey]: null, [drainKey]: null },
        },
      },
    });
    assigned.set(name, updated.metadata.labels?.[shardKey]);
  }
  return assigned;
}

/** The names of the objects whose bucket is in [low, high): those that change side between the two percents. */
function inBuckets(low: number, high: number): string[] {
  return objects.filter((name) => canaryBucket(key(name)) >= low && canaryBucket(key(name)) < high).sort();
}

function drainedNames(listed: Labelled[]): string[] {
  return listed
    .filter((o) => o.metadata.labels?.[drainKey] === 'true')
    .map((o) => o.metadata.name ?? '')
    .sort();
}

function shardsOf(listed: Labelled[]): Map<string, string | undefined> {
  return new Map(listed.map((o) => [o.metadata.name ?? '', o.metadata.labels?.[shardKey]]));
}

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  for (const name of ['sharder-system', shardNamespace, namespace]) await createNamespace(rest, name);
  sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: 'sharder-system',
    identity: 'sharder-0',
    certificates: await webhookCertificates(),
    args: [...quickLeaderElection, '--sync-period=1m'],
  });
  const join = (name: string, labels: Record<string, string>) =>
    joinFakeShard(rest, shards, { ring, name, namespace: shardNamespace, durationSeconds: 10, labels });
  await join('stable-0', v1);
  await join('stable-1', v1);
  await join('canary-0', v2);
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps' }],
    shardLeaseNamespaces: [shardNamespace],
    canary: { shardSelector: { matchLabels: v2 }, percent: 10 },
  });
  await eventually(async () => {
    expect((await getRing(rest, ring))?.status).toMatchObject({
      availableShards: 3,
      availableCanaryShards: 1,
    });
  });
  await webhookEffective(rest, ring, namespace);
}, 120_000);

afterAll(async () => {
  for (const shard of shards) shard.crash();
  const code = await sharder?.stop();
  await cluster?.stop();
  expect(code).toBe(0);
});

describe('a ring with 2 stable shards and 1 canary shard', () => {
  it('reports both groups in its status', async () => {
    const ringObject = (await getRing(rest, ring)) as ControllerRing;
    expect(ringObject.status).toMatchObject({
      shards: 3,
      availableShards: 3,
      canaryShards: 1,
      availableCanaryShards: 1,
    });
    expect(ringObject.status?.conditions?.[0]?.message).toBe(
      '3 of 3 shards are available; 1 of 1 canary shards are available, for 10 % of the objects; new objects are assigned by the admission webhook (assignment: Webhook)',
    );
  });

  it('assigns objects at 10 % by the split: the canary shard gets the keys of buckets 0-9', async () => {
    for (const name of objects) await createConfigMap(rest, namespace, name);
    const listed = await listObjects(rest, configMapsPath(namespace));
    expect(shardsOf(listed)).toEqual(desired(10, ['canary-0'], ['stable-0', 'stable-1']));
    const onCanary = listed
      .filter((o) => o.metadata.labels?.[shardKey] === 'canary-0')
      .map((o) => o.metadata.name);
    expect(onCanary.sort()).toEqual(inBuckets(0, 10));
  });

  it('drains, from 10 % to 50 %, exactly the objects whose side changed, to the canary shard', async () => {
    const toMove = inBuckets(10, 50);
    expect(toMove.length).toBeGreaterThan(objects.length / 4);
    const before = shardsOf(await listObjects(rest, configMapsPath(namespace)));
    await setPercent(50);
    const listed = await drainedObjects(toMove.length);
    expect(drainedNames(listed)).toEqual(toMove);
    // Nothing moves without its shard's acknowledgement.
    expect(shardsOf(listed)).toEqual(before);
    const assigned = await acknowledge(listed);
    expect([...new Set(assigned.values())]).toEqual(['canary-0']);
    expect(shardsOf(await listObjects(rest, configMapsPath(namespace)))).toEqual(
      desired(50, ['canary-0'], ['stable-0', 'stable-1']),
    );
  });

  it('drains, from 50 % back to 10 %, exactly those objects again, to the stable shards they had', async () => {
    await setPercent(10);
    const listed = await drainedObjects(inBuckets(10, 50).length);
    expect(drainedNames(listed)).toEqual(inBuckets(10, 50));
    await acknowledge(listed);
    expect(shardsOf(await listObjects(rest, configMapsPath(namespace)))).toEqual(
      desired(10, ['canary-0'], ['stable-0', 'stable-1']),
    );
  });

  it('takes a shard whose Lease leaves the canary group as a stable shard, moving only what that changes', async () => {
    // canary-0 is rolled back: its Lease's label says v1 now. With no canary shard the canary share is hashed
    // over the stable side, which canary-0 has joined: what changes shard is drained, nothing else.
    const before = shardsOf(await listObjects(rest, configMapsPath(namespace)));
    const after = desired(10, [], ['canary-0', 'stable-0', 'stable-1']);
    const changed = objects.filter((name) => before.get(name) !== after.get(name)).sort();
    // The canary share, but for those hashed onto canary-0 again, and about a third of the stable share.
    expect(changed.length).toBeLessThan(inBuckets(0, 10).length + objects.length / 2);
    const path = `/apis/coordination.k8s.io/v1/namespaces/${shardNamespace}/leases/canary-0`;
    const lease = await rest.request<ILease>({ path });
    await rest.request({
      method: 'PUT',
      path,
      body: { ...lease, metadata: { ...lease.metadata, labels: { ...lease.metadata?.labels, ...v1 } } },
    });
    const listed = await drainedObjects(changed.length);
    expect(drainedNames(listed)).toEqual(changed);
    await acknowledge(listed);
    expect(shardsOf(await listObjects(rest, configMapsPath(namespace)))).toEqual(after);
    await eventually(async () => {
      const ringObject = await getRing(rest, ring);
      expect(ringObject?.status).toMatchObject({ canaryShards: 0, availableCanaryShards: 0 });
      expect(ringObject?.status?.conditions?.[0]?.message).toContain(
        'with no canary shard available, the stable shards take them',
      );
    });
  });
});
