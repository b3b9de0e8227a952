// With the webhook unreachable, writes still succeed (failurePolicy Ignore) and the sharder's periodic sync
// assigns the objects. Runs its own control plane: its sharder points its webhook configurations elsewhere.
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { createTwoShardConfigMapRing } from '../support/configmap-rings.ts';
import type { FakeShard } from '../support/fake-shard.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { freePort } from '../support/ports.ts';
import { createNamespace, listObjects } from '../support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../support/sharder.ts';

const ring = 'webhook-down';
const namespace = 'objects';
let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let sharder: SharderProcess | undefined;
const shards: FakeShard[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  await createNamespace(rest, 'sharder-system');
  await createNamespace(rest, namespace);
  sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: 'sharder-system',
    identity: 'sharder-0',
    certificates: await webhookCertificates(),
    // Nothing listens there: every webhook call fails.
    webhookUrl: `https://127.0.0.1:${await freePort()}`,
    args: ['--sync-period=2s', '--leader-elect=false'],
  });
  await createTwoShardConfigMapRing(rest, shards, {
    ring,
    shardNamespace: 'sharder-system',
    durationSeconds: 10,
  });
});

afterAll(async () => {
  for (const shard of shards) shard.crash();
  await sharder?.stop();
  await cluster?.stop();
});

it('still admits writes, and the next sync assigns the objects', async () => {
  const names = Array.from({ length: 10 }, (_, i) => `object-${i}`);
  for (const name of names) {
    const created = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      body: { metadata: { name } },
    });
    expect(created.metadata.labels?.[shardLabel(ring)]).toBeUndefined();
  }
  const hashRing = new HashRing(['a', 'b']);
  await eventually(
    async () => {
      const objects = (await listObjects(rest, `/api/v1/namespaces/${namespace}/configmaps`)).filter((o) =>
        names.includes(o.metadata.name ?? ''),
      );
      for (const object of objects) {
        expect(object.metadata.labels?.[shardLabel(ring)]).toBe(
          hashRing.shardFor(`/ConfigMap/${namespace}/${object.metadata.name ?? ''}`),
        );
      }
    },
    { timeoutMs: 20_000 },
  );
});
