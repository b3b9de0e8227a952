// Chains of controllers (controlledResources[].owner) with a real sharder on a real API server whose
// kube-controller-manager makes the chain: Deployments (the ring resource) → ReplicaSets (made by the
// deployment controller) → Pods (made by the ReplicaSet controller; Pending, no scheduler or kubelet runs).
// The webhook puts every level on its root Deployment's shard as the controllers create them; when a shard
// joins, the sync drains every level of a moving chain, the deepest first, and each level's handover lands it
// on the root's new shard. Shards are FakeShards that acknowledge drains when the test does, as a shard does:
// the deepest level first.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { drainLabel, ringsPath, shardLabel } from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { runKubectlRings } from '../support/kubectl-rings.ts';
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
const ring = 'chains';
const namespace = 'chain-objects';
const shardNamespace = 'shards';
const shardKey = shardLabel(ring);
const drainKey = drainLabel(ring);
const deploymentNames = Array.from({ length: 6 }, (_, i) => `web-${i}`);
const replicas = 2;

const paths = {
  deployments: `/apis/apps/v1/namespaces/${namespace}/deployments`,
  replicasets: `/apis/apps/v1/namespaces/${namespace}/replicasets`,
  pods: `/api/v1/namespaces/${namespace}/pods`,
};
type Level = keyof typeof paths;
/** The deepest level first: the order in which a shard hands a chain over. */
const leafFirst: Level[] = ['pods', 'replicasets', 'deployments'];

interface Chain {
  level: Level;
  object: Labelled;
  /** The name of its root Deployment. */
  root: string;
}

const controllerName = (object: Labelled): string | undefined =>
  object.metadata.ownerReferences?.find((reference) => reference.controller === true)?.name;

/** Every object of the chains with its root, once all `count` Deployments have their ReplicaSet and Pods. */
async function chains(count = deploymentNames.length): Promise<Chain[]> {
  const [pods, replicaSets, deployments] = await Promise.all(
    leafFirst.map((level) => listObjects(rest, paths[level])),
  );
  expect(deployments).toHaveLength(count);
  expect(replicaSets).toHaveLength(count);
  expect(pods).toHaveLength(count * replicas);
  const rootOfReplicaSet = new Map(replicaSets?.map((rs) => [rs.metadata.name, controllerName(rs) ?? '']));
  return [
    ...(pods ?? []).map((object) => ({
      level: 'pods' as const,
      object,
      root: rootOfReplicaSet.get(controllerName(object)) ?? '',
    })),
    ...(replicaSets ?? []).map((object) => ({
      level: 'replicasets' as const,
      object,
      root: controllerName(object) ?? '',
    })),
    ...(deployments ?? []).map((object) => ({
      level: 'deployments' as const,
      object,
      root: object.metadata.name ?? '',
    })),
  ];
}

const rootKey = (root: string): string => `apps/Deployment/${namespace}/${root}`;

/** Asserts that every level of every chain is on its root's shard by `hashRing`, with no drain left. */
function expectOnRootShards(listed: Chain[], hashRing: HashRing): void {
  for (const { level, object, root } of listed) {
    expect({ level, name: object.metadata.name, root, shard: object.metadata.labels?.[shardKey] }).toEqual({
      level,
      name: object.metadata.name,
      root,
      shard: hashRing.shardFor(rootKey(root)),
    });
    expect(object.metadata.labels?.[drainKey]).toBeUndefined();
  }
}

/** Acknowledges the drains of `listed` as a shard does, the deepest level first; returns how many. */
async function acknowledgeDrains(listed: Chain[]): Promise<number> {
  let acknowledged = 0;
  for (const level of leafFirst) {
    for (const { object } of listed.filter((chain) => chain.level === level)) {
      if (object.metadata.labels?.[drainKey] !== 'true') continue;
      await rest.request({
        method: 'PATCH',
        path: `${paths[level]}/${object.metadata.name ?? ''}`,
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            resourceVersion: object.metadata.resourceVersion,
            labels: { [shardKey]: null, [drainKey]: null },
          },
        },
      });
      acknowledged++;
    }
  }
  return acknowledged;
}

beforeAll(async () => {
  cluster = await startTestCluster({ controllers: ['deployment', 'replicaset'] });
  rest = cluster.rest;
  for (const name of ['sharder-system', shardNamespace, namespace]) await createNamespace(rest, name);
  sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: 'sharder-system',
    identity: 'sharder-0',
    certificates: await webhookCertificates(),
    // Long: within the test only the webhook assigns new objects, and only a membership change calls for a sync.
    args: [...quickLeaderElection, '--sync-period=10m'],
  });
  for (const name of ['a', 'b']) {
    await joinFakeShard(rest, shards, { ring, name, namespace: shardNamespace, durationSeconds: 10 });
  }
  await createRing(rest, ring, {
    resources: [
      {
        group: 'apps',
        resource: 'deployments',
        controlledResources: [
          { group: 'apps', resource: 'replicasets' },
          { resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
        ],
      },
    ],
    shardLeaseNamespaces: [shardNamespace],
  });
  await eventually(async () => {
    expect((await getRing(rest, ring))?.status?.availableShards).toBe(2);
  });
  // The API server picks the webhook configuration up with a lag: wait until a dry-run create is labelled.
  await eventually(async () => {
    const probe = await rest.request<Labelled>({
      method: 'POST',
      path: paths.deployments,
      query: { dryRun: 'All' },
      body: deployment('probe'),
    });
    expect(probe.metadata.labels?.[shardKey]).toBeDefined();
  });
}, 120_000);

afterAll(async () => {
  for (const shard of shards) shard.crash();
  const code = await sharder?.stop();
  await cluster?.stop();
  expect(code).toBe(0);
});

function deployment(name: string): object {
  const labels = { app: name };
  return {
    metadata: { name },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: 'app', image: 'example.invalid/app' }] },
      },
    },
  };
}

describe('a ring of Deployments with their ReplicaSets and Pods', () => {
  it('puts every level on its root Deployment’s shard as the controllers create them', async () => {
    for (const name of deploymentNames) {
      await rest.request({ method: 'POST', path: paths.deployments, body: deployment(name) });
    }
    const listed = await eventually(
      async () => {
        const all = await chains();
        expectOnRootShards(all, new HashRing(['a', 'b']));
        return all;
      },
      { timeoutMs: 60_000 },
    );
    // The roots spread over both shards, and so do their chains.
    expect(new Set(listed.map(({ object }) => object.metadata.labels?.[shardKey]))).toEqual(
      new Set(['a', 'b']),
    );
  }, 90_000);

  it('moves every level of a chain with its root when a shard joins, each through a drain', async () => {
    const before = await chains();
    await joinFakeShard(rest, shards, { ring, name: 'c', namespace: shardNamespace, durationSeconds: 10 });
    const hashRing = new HashRing(['a', 'b', 'c']);
    const moving = new Set(deploymentNames.filter((root) => hashRing.shardFor(rootKey(root)) === 'c'));
    expect(moving.size).toBeGreaterThan(0);
    // Every object of a moving chain is drained (none moved without a drain: its shard is live), the others
    // are left alone.
    const drained = await eventually(
      async () => {
        const all = await chains();
        const names = all.filter(({ object }) => object.metadata.labels?.[drainKey] === 'true');
        expect(names.length).toBe(before.filter(({ root }) => moving.has(root)).length);
        return all;
      },
      { timeoutMs: 60_000 },
    );
    for (const { root, object } of drained) {
      expect({ root, drained: object.metadata.labels?.[drainKey] === 'true' }).toEqual({
        root,
        drained: moving.has(root),
      });
      // Still on its old shard until the shard lets go.
      const old = before.find((chain) => chain.object.metadata.uid === object.metadata.uid);
      expect(object.metadata.labels?.[shardKey]).toBe(old?.object.metadata.labels?.[shardKey]);
    }
    expect(await acknowledgeDrains(drained)).toBe(drained.filter(({ root }) => moving.has(root)).length);
    // Each handover passed the webhook, which put each level on its root's new shard, c.
    expectOnRootShards(await chains(), hashRing);
  }, 90_000);

  it('puts every level on its root Deployment’s shard in assignment: Watch too, through the watch', async () => {
    await rest.request({
      method: 'PATCH',
      path: `${ringsPath}/${ring}`,
      contentType: 'application/merge-patch+json',
      body: { spec: { assignment: 'Watch' } },
    });
    // Once the API server no longer calls the webhook, a dry-run create comes back without a shard.
    await eventually(
      async () => {
        const probe = await rest.request<Labelled>({
          method: 'POST',
          path: paths.deployments,
          query: { dryRun: 'All' },
          body: deployment('probe'),
        });
        expect(probe.metadata.labels?.[shardKey]).toBeUndefined();
      },
      { timeoutMs: 60_000 },
    );
    const watched = ['watched-0', 'watched-1', 'watched-2'];
    for (const name of watched) {
      await rest.request({ method: 'POST', path: paths.deployments, body: deployment(name) });
    }
    // The ReplicaSets and Pods the controllers make are created unlabelled too: the watch assigns each level,
    // the Pods by their root's key, read up the chain.
    await eventually(
      async () => {
        expectOnRootShards(
          await chains(deploymentNames.length + watched.length),
          new HashRing(['a', 'b', 'c']),
        );
      },
      { timeoutMs: 60_000 },
    );
  }, 150_000);

  it('says in the ring’s ChainsResolved condition which objects’ chains cannot be followed, and Ready stays', async () => {
    // A spec change calls for a sync (the test's sync period is long): a namespace more to trust, or one less.
    const syncAgain = async (shardLeaseNamespaces: string[]): Promise<number> => {
      const changed = await rest.request<{ metadata: { generation: number } }>({
        method: 'PATCH',
        path: `${ringsPath}/${ring}`,
        contentType: 'application/merge-patch+json',
        body: { spec: { shardLeaseNamespaces } },
      });
      return changed.metadata.generation;
    };
    const conditionsAt = async (generation: number) =>
      eventually(
        async () => {
          const conditions = (await getRing(rest, ring))?.status?.conditions ?? [];
          const chainsResolved = conditions.find(({ type }) => type === 'ChainsResolved');
          expect(chainsResolved?.observedGeneration).toBe(generation);
          return { chainsResolved, ready: conditions.find(({ type }) => type === 'Ready') };
        },
        { timeoutMs: 60_000 },
      );
    // A Pod whose controller is a ConfigMap: not of replicasets.apps, the owner the ring's chain declares. (An
    // owner that does not exist would not do here: the garbage collector deletes such a Pod at once.)
    const owner = await rest.request<Labelled>({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      body: { metadata: { name: 'not-a-replicaset' } },
    });
    await rest.request({
      method: 'POST',
      path: paths.pods,
      body: {
        metadata: {
          name: 'stray',
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              name: 'not-a-replicaset',
              uid: owner.metadata.uid,
              controller: true,
            },
          ],
        },
        spec: { containers: [{ name: 'app', image: 'example.invalid/app' }] },
      },
    });
    const broken = await conditionsAt(await syncAgain([shardNamespace, 'unused']));
    expect(broken.chainsResolved).toMatchObject({
      status: 'False',
      reason: 'OwnerNotInChain',
      message: expect.stringMatching(
        new RegExp(
          `^1 object of pods is not assigned to a shard, as its chain of controllers could not be followed to its root: ${namespace}/stray: its controller ConfigMap ${namespace}/not-a-replicaset \\(v1\\) is not of replicasets.apps.*correct the chain's owner in the ControllerRing or the object's controller reference$`,
        ),
      ) as unknown,
    });
    expect(broken.ready?.status).toBe('True');
    const stray = (await listObjects(rest, paths.pods)).find(({ metadata }) => metadata.name === 'stray');
    expect(stray?.metadata.labels?.[shardKey]).toBeUndefined();
    // kubectl rings describe tells it too, and which level each resource is.
    const described = await runKubectlRings(
      ['describe', ring, '--kubeconfig', cluster?.controlPlane.kubeconfigPath ?? ''],
      {},
    );
    expect(described).toMatchObject({ code: 0, stderr: '' });
    expect(described.stdout).toContain('\nChains resolved:  False (OwnerNotInChain)\n');
    expect(described.stdout).toMatch(/\nChains message: +1 object of pods is not assigned to a shard/);
    expect(described.stdout).toContain(
      'deployments.apps, replicasets.apps (controlled), pods (controlled by replicasets.apps)\n',
    );

    await rest.request({
      method: 'DELETE',
      path: `${paths.pods}/stray`,
      query: { gracePeriodSeconds: '0' },
    });
    await eventually(async () => {
      const pods = await listObjects(rest, paths.pods);
      expect(pods.map(({ metadata }) => metadata.name)).not.toContain('stray');
    });
    const resolved = await conditionsAt(await syncAgain([shardNamespace]));
    expect(resolved.chainsResolved).toMatchObject({
      status: 'True',
      reason: 'AllResolved',
      message: "the last sync followed every object of the ring's chains of controllers to its root",
    });
    expect(resolved.ready?.status).toBe('True');
  }, 150_000);
});
