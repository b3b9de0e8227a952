// The sharder with nothing but the permissions of its generated manifests (config/sharder/): it works as its
// own service account, and a ring whose resources it may not list and patch is reported Forbidden until a
// ShardedResourceAccess grants them.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import { ShardedResourceAccess } from '../../cdk8s/sharded-resource-access.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { FakeShard } from '../support/fake-shard.ts';
import { apply, manifests, type KubeObject } from '../support/manifests.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing } from '../support/rings.ts';
import { serviceAccountKubeconfig } from '../support/service-account.ts';
import {
  startSharder,
  quickLeaderElection,
  webhookCertificates,
  type SharderProcess,
} from '../support/sharder.ts';

const namespace = 'controller-rings-system';
const serviceAccount = 'controller-rings-sharder';
const ring = 'rbac';
let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let sharder: SharderProcess | undefined;
let shard: FakeShard | undefined;

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  // Everything the sharder needs but its Deployment (no kubelet here) and cert-manager's objects.
  for (const object of manifests('sharder/sharder.yaml')) {
    if (object.kind !== 'Deployment' && !object.apiVersion.startsWith('cert-manager.io/'))
      await apply(rest, object);
  }
  await createNamespace(rest, 'shards');
  await createNamespace(rest, 'objects');
  const certificates = await webhookCertificates();
  sharder = await startSharder({
    kubeconfigPath: await serviceAccountKubeconfig(
      cluster.kubeConfig,
      { namespace, name: serviceAccount },
      certificates.dir,
    ),
    namespace,
    identity: 'sharder-0',
    certificates,
    args: quickLeaderElection,
  });
  shard = new FakeShard(rest, { ring, name: 'shard-0', namespace: 'shards', durationSeconds: 10 });
  await shard.join();
});

afterAll(async () => {
  shard?.crash();
  expect(await sharder?.stop()).toBe(0);
  await cluster?.stop();
});

it('reports a ring Forbidden until the sharder may list and patch its resources, then assigns its objects', async () => {
  await createRing(rest, ring, { resources: [{ resource: 'configmaps' }], shardLeaseNamespaces: ['shards'] });
  await eventually(async () => {
    const condition = (await getRing(rest, ring))?.status?.conditions?.find((c) => c.type === 'Ready');
    expect(condition).toMatchObject({ status: 'False', reason: 'Forbidden' });
    expect(condition?.message).toContain('the sharder may not get, list or patch configmaps');
  });

  const chart = new Chart(new App(), 'grant');
  new ShardedResourceAccess(chart, ring, { resources: [{ group: '', resource: 'configmaps' }] });
  for (const object of chart.toJson() as KubeObject[]) await apply(rest, object);
  // The sharder looks at a problem again after 30 s (and caches access answers as long).
  await eventually(
    async () => {
      const condition = (await getRing(rest, ring))?.status?.conditions?.find((c) => c.type === 'Ready');
      expect(condition).toMatchObject({ status: 'True', reason: 'ShardsAvailable' });
    },
    { timeoutMs: 90_000, intervalMs: 1000 },
  );

  const created = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
    method: 'POST',
    path: '/api/v1/namespaces/objects/configmaps',
    body: { metadata: { name: 'assigned' } },
  });
  await eventually(async () => {
    const object =
      created.metadata.labels?.[shardLabel(ring)] === undefined
        ? await rest.request<{ metadata: { labels?: Record<string, string> } }>({
            path: '/api/v1/namespaces/objects/configmaps/assigned',
          })
        : created;
    expect(object.metadata.labels?.[shardLabel(ring)]).toBe('shard-0');
  });
}, 150_000);
