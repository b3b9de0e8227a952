// The sharder's webhook port under hostile calls (defect 5 of issue 7): a sharder process with a small heap
// takes reviews of deeply nested arrays, which JSON.parse would build whole (some 100 MB each), and goes on
// assigning the objects the API server sends it. Runs its own control plane: it runs a sharder.
import { readFile } from 'node:fs/promises';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { HashRing } from '../../sharding/ring.ts';
import { webhookPath } from '../../webhook/path.ts';
import { createTwoShardConfigMapRing } from '../support/configmap-rings.ts';
import type { FakeShard } from '../support/fake-shard.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace } from '../support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../support/sharder.ts';

const ring = 'webhook-limits';
const namespace = 'objects';
let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let ca: string;
let sharder: SharderProcess | undefined;
const shards: FakeShard[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  await createNamespace(rest, 'sharder-system');
  await createNamespace(rest, namespace);
  const certificates = await webhookCertificates();
  ca = await readFile(certificates.caFile, 'utf8');
  sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: 'sharder-system',
    identity: 'sharder-0',
    certificates,
    args: ['--leader-elect=false', '--log-level=info'],
    // Some 40 MiB of it are the sharder's own; one nested review built whole takes over 100 MiB.
    nodeArgs: ['--max-old-space-size=96'],
  });
  await createTwoShardConfigMapRing(rest, shards, {
    ring,
    shardNamespace: 'sharder-system',
    durationSeconds: 30,
  });
});

afterAll(async () => {
  for (const shard of shards) shard.crash();
  await sharder?.stop();
  await cluster?.stop();
});

/** A CREATE review of a ConfigMap whose data is arrays nested as deep as `bytes` allows. */
function nestedReview(bytes: number): Buffer {
  const review = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'nested',
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      namespace,
      operation: 'CREATE',
      object: { metadata: { name: 'nested', namespace }, data: null },
    },
  });
  const depth = Math.floor((bytes - review.length) / 2);
  return Buffer.from(review.replace('"data":null', `"data":${'['.repeat(depth)}${']'.repeat(depth)}`));
}

async function callWebhook(port: number, body: Buffer): Promise<number> {
  const outgoing = request({
    host: '127.0.0.1',
    port,
    path: webhookPath(ring),
    method: 'POST',
    ca,
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  });
  outgoing.end(body);
  const [response] = (await once(outgoing, 'response')) as [IncomingMessage];
  response.resume();
  return response.statusCode ?? 0;
}

it('takes reviews of deeply nested arrays within a small heap, and goes on assigning objects at creation', async () => {
  const port = sharder?.webhookPort ?? 0;
  // Each just under the 4 MiB body limit: 2 million arrays deep.
  const review = nestedReview(4 * 1024 * 1024 - 1024);
  for (let i = 0; i < 4; i++) await expect(callWebhook(port, review)).resolves.toBe(200);
  expect(sharder?.running).toBe(true);
  const created = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
    method: 'POST',
    path: `/api/v1/namespaces/${namespace}/configmaps`,
    body: { metadata: { name: 'after-the-attack' } },
  });
  expect(created.metadata.labels?.[shardLabel(ring)]).toBe(
    new HashRing(['a', 'b']).shardFor(`/ConfigMap/${namespace}/after-the-attack`),
  );
});
