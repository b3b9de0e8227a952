// The sharder as real processes (two replicas) against the real API server: assignment through its webhook,
// shard Lease states, rebalancing with drain, ring status and cleanup. Shards are stood in for by Leases
// the test keeps itself (FakeShard), so membership changes exactly when the test says.
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import {
  drainLabel,
  ringsPath,
  shardLabel,
  stateLabel,
  type ControllerRing,
} from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import { createCertificateAuthority } from '../../runtime/certificates.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { configMapsPath, createConfigMap, webhookEffective } from '../support/configmap-rings.ts';
import { duplicateKeys, readLogLines } from '../support/log-lines.ts';
import { joinFakeShard, type FakeShard } from '../support/fake-shard.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing, listObjects } from '../support/rings.ts';
import {
  startSharder,
  quickLeaderElection,
  webhookCertificates,
  type SharderProcess,
  type WebhookFiles,
} from '../support/sharder.ts';

let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
const sharderNamespace = 'sharder-system';
const shardNamespace = 'shards';
const sharders: SharderProcess[] = [];
let certificates: WebhookFiles;
const shards: FakeShard[] = [];

function joinShard(ring: string, name: string, durationSeconds = 10): Promise<FakeShard> {
  return joinFakeShard(rest, shards, { ring, name, namespace: shardNamespace, durationSeconds });
}

async function readyRing(name: string, available: number): Promise<ControllerRing> {
  return eventually(async () => {
    const ring = await getRing(rest, name);
    expect(ring?.status?.availableShards).toBe(available);
    expect(ring?.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    return ring as ControllerRing;
  });
}

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  await createNamespace(rest, sharderNamespace);
  await createNamespace(rest, shardNamespace);
  certificates = await webhookCertificates();
  const kubeconfigPath = cluster.controlPlane.kubeconfigPath;
  const args = [...quickLeaderElection, '--sync-period=1m', '--webhook-certificate-reload-period=500ms'];
  for (const identity of ['sharder-0', 'sharder-1']) {
    sharders.push(
      await startSharder({ kubeconfigPath, namespace: sharderNamespace, identity, certificates, args }),
    );
  }
});

afterAll(async () => {
  for (const shard of shards) shard.crash();
  // Graceful shutdown must succeed: exit code 0 from SIGTERM.
  const codes = await Promise.all(sharders.map((sharder) => sharder.stop()));
  await cluster?.stop();
  expect(codes).toEqual(sharders.map(() => 0));
});

describe('assignment through the webhook', () => {
  const ring = 'assign';
  const inside = 'assign-inside';
  const outside = 'assign-outside';

  beforeAll(async () => {
    await createNamespace(rest, inside, { team: 'assign' });
    await createNamespace(rest, outside);
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
      namespaceSelector: { matchLabels: { team: 'assign' } },
      shardLeaseNamespaces: [shardNamespace],
    });
    for (const name of ['a', 'b', 'c']) await joinShard(ring, `${ring}-${name}`);
    await readyRing(ring, 3);
    await webhookEffective(rest, ring, inside);
  });

  it('keeps a webhook configuration per ring, owned by the ring', async () => {
    const ringObject = await getRing(rest, ring);
    const configuration = await rest.request<IMutatingWebhookConfiguration>({
      path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-${ring}`,
    });
    expect(configuration.metadata?.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'ControllerRing',
        name: ring,
        uid: ringObject?.metadata?.uid,
        controller: true,
      }),
    ]);
    const [webhook] = configuration.webhooks ?? [];
    expect(webhook).toMatchObject({
      failurePolicy: 'Ignore',
      sideEffects: 'None',
      objectSelector: { matchExpressions: [{ key: shardLabel(ring), operator: 'DoesNotExist' }] },
      namespaceSelector: {
        matchLabels: { team: 'assign' },
        matchExpressions: [
          {
            key: 'kubernetes.io/metadata.name',
            operator: 'NotIn',
            values: ['kube-system', sharderNamespace],
          },
        ],
      },
    });
    expect(webhook?.rules?.map((rule) => rule.resources)).toEqual([['configmaps'], ['secrets']]);
    expect(webhook?.timeoutSeconds).toBeLessThanOrEqual(5);
  });

  it('labels new objects with the shard the hash ring gives their key', async () => {
    const hashRing = new HashRing([`${ring}-a`, `${ring}-b`, `${ring}-c`]);
    for (let i = 0; i < 15; i++) {
      const object = await createConfigMap(rest, inside, `object-${i}`);
      expect(object.metadata.labels?.[shardLabel(ring)]).toBe(
        hashRing.shardFor(`/ConfigMap/${inside}/object-${i}`),
      );
    }
  });

  it('labels controlled objects with the shard of their controller', async () => {
    const owner = await createConfigMap(rest, inside, 'owner');
    const ownerShard = owner.metadata.labels?.[shardLabel(ring)];
    expect(ownerShard).toBeDefined();
    const reference = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'owner',
      uid: owner.metadata.uid,
      controller: true,
    };
    const owned = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${inside}/secrets`,
      body: { metadata: { name: 'owned', ownerReferences: [reference] } },
    });
    expect(owned.metadata.labels?.[shardLabel(ring)]).toBe(ownerShard);

    const orphan = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${inside}/secrets`,
      body: { metadata: { name: 'no-controller' } },
    });
    expect(orphan.metadata.labels?.[shardLabel(ring)]).toBeUndefined();
  });

  it('leaves objects outside the ring alone', async () => {
    const elsewhere = await createConfigMap(rest, outside, 'elsewhere');
    expect(elsewhere.metadata.labels?.[shardLabel(ring)]).toBeUndefined();
    const system = await createConfigMap(rest, sharderNamespace, 'own-namespace');
    expect(system.metadata.labels?.[shardLabel(ring)]).toBeUndefined();
  });
});

describe('certificate rotation', () => {
  it('serves a renewed certificate and writes the new CA into the webhook configurations', async () => {
    const authority = await createCertificateAuthority('rotated-ca');
    const serving = await authority.sign({
      commonName: 'sharder',
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    // As cert-manager renews a Secret: key and certificate first, the CA with them.
    await writeFile(certificates.keyFile, serving.privateKey);
    await writeFile(certificates.certFile, serving.certificate);
    await writeFile(certificates.caFile, authority.certificate);
    await eventually(async () => {
      const configuration = await rest.request<IMutatingWebhookConfiguration>({
        path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-assign',
      });
      expect(configuration.webhooks?.[0]?.clientConfig.caBundle).toBe(btoa(authority.certificate));
    });
    // The API server now trusts only the new CA, so a labelled object proves the new certificate is served.
    const object = await eventually(async () => {
      const created = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
        method: 'POST',
        path: configMapsPath('assign-inside'),
        query: { dryRun: 'All' },
        body: { metadata: { name: 'after-rotation' } },
      });
      expect(created.metadata.labels?.[shardLabel('assign')]).toBeDefined();
      return created;
    });
    expect(object.metadata.labels?.[shardLabel('assign')]).toMatch(/^assign-[abc]$/);
  });

  it('keeps the current certificates when the files turn invalid, and logs which option and file', async () => {
    const [key, ca] = await Promise.all([
      readFile(certificates.keyFile, 'utf8'),
      readFile(certificates.caFile, 'utf8'),
    ]);
    const loggedByAll = (text: string): Promise<void> =>
      eventually(async () => {
        for (const sharder of sharders) expect(await readFile(sharder.logPath, 'utf8')).toContain(text);
      });
    const stranger = await createCertificateAuthority('stranger-ca');
    const strangerServing = await stranger.sign({ commonName: 'sharder', usage: 'server' });
    try {
      // Not PEM: today's caBundle must not become its base64.
      await writeFile(certificates.caFile, 'not a certificate\n');
      await loggedByAll(`--webhook-ca-file: ${certificates.caFile} holds no PEM certificate`);
      // A key that is not the certificate's, as when a reload falls between the writes of a renewal.
      await writeFile(certificates.keyFile, strangerServing.privateKey);
      await loggedByAll(`--webhook-key-file: ${certificates.keyFile} is not the key of the certificate`);
      const configuration = await rest.request<IMutatingWebhookConfiguration>({
        path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-assign',
      });
      expect(configuration.webhooks?.[0]?.clientConfig.caBundle).toBe(btoa(ca));
      // The webhook still serves the certificate that CA signed.
      await webhookEffective(rest, 'assign', 'assign-inside');
    } finally {
      await writeFile(certificates.keyFile, key);
      await writeFile(certificates.caFile, ca);
    }
  });
});

describe('shard leases', () => {
  const ring = 'leases';
  const leasePath = (name: string): string =>
    `/apis/coordination.k8s.io/v1/namespaces/${shardNamespace}/leases/${name}`;
  const readLease = (name: string): Promise<ILease> => rest.request<ILease>({ path: leasePath(name) });

  beforeAll(async () => {
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { team: ring } },
      shardLeaseNamespaces: [shardNamespace],
    });
  });

  it('move from ready to expired to acquired by the sharder (dead) and are deleted once orphaned', async () => {
    const shard = await joinShard(ring, `${ring}-crashing`, 2);
    await eventually(async () => {
      expect((await readLease(shard.name)).metadata?.labels?.[stateLabel]).toBe('ready');
    });
    shard.crash();
    await eventually(async () => {
      expect((await readLease(shard.name)).metadata?.labels?.[stateLabel]).toBe('expired');
    });
    // Uncertain lasts only until the sharder's acquisition succeeds, which makes the shard dead.
    const acquired = await eventually(async () => {
      const lease = await readLease(shard.name);
      expect(lease.spec?.holderIdentity).toMatch(/^sharder\/sharder-[01]$/);
      expect(lease.metadata?.labels?.[stateLabel]).toBe('dead');
      return lease;
    });
    expect(acquired.spec?.leaseTransitions).toBe(1);
    await eventually(
      async () => {
        await expect(readLease(shard.name)).rejects.toMatchObject({ code: 404 });
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
  }, 120_000);

  it('count a released lease as dead at once', async () => {
    const shard = await joinShard(ring, `${ring}-leaving`, 30);
    await eventually(async () => {
      expect((await readLease(shard.name)).metadata?.labels?.[stateLabel]).toBe('ready');
    });
    await shard.leave();
    await eventually(async () => {
      expect((await readLease(shard.name)).metadata?.labels?.[stateLabel]).toBe('dead');
    });
  });
});

describe('rebalancing', () => {
  const ring = 'rebalance';
  const namespace = 'rebalance';
  const objects = 80;
  const shardLabelKey = shardLabel(ring);
  const drainLabelKey = drainLabel(ring);
  const names = (...suffixes: string[]): string[] => suffixes.map((s) => `${ring}-${s}`);
  const key = (name: string): string => `/ConfigMap/${namespace}/${name}`;

  beforeAll(async () => {
    await createNamespace(rest, namespace, { team: ring });
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { team: ring } },
      shardLeaseNamespaces: [shardNamespace],
    });
    for (const name of names('a', 'b', 'c')) await joinShard(ring, name);
    await readyRing(ring, 3);
    await webhookEffective(rest, ring, namespace);
    for (let i = 0; i < objects; i++) await createConfigMap(rest, namespace, `object-${i}`);
  });

  it('drains about 1/(N+1) of the objects to a joining shard and changes nothing else', async () => {
    const before = await listObjects(rest, configMapsPath(namespace));
    const joined = new HashRing(names('a', 'b', 'c', 'd'));
    const toNewShard = before.filter((o) => joined.shardFor(key(o.metadata.name ?? '')) === `${ring}-d`);
    expect(toNewShard.length / objects).toBeGreaterThan(0.1);
    expect(toNewShard.length / objects).toBeLessThan(0.4);

    await joinShard(ring, `${ring}-d`);
    const after = await eventually(async () => {
      const listed = await listObjects(rest, configMapsPath(namespace));
      expect(listed.filter((o) => o.metadata.labels?.[drainLabelKey] === 'true').length).toBe(
        toNewShard.length,
      );
      return listed;
    });
    const shardOf = new Map(before.map((o) => [o.metadata.name, o.metadata.labels?.[shardLabelKey]]));
    for (const object of after) {
      // Nothing moves without the current shard's acknowledgement: every shard label is as it was.
      expect(object.metadata.labels?.[shardLabelKey]).toBe(shardOf.get(object.metadata.name));
      const drained = object.metadata.labels?.[drainLabelKey] === 'true';
      expect(drained).toBe(toNewShard.some((o) => o.metadata.name === object.metadata.name));
    }

    // The shards acknowledge (remove both labels, as the shard library does); the webhook assigns the new shard.
    for (const object of after.filter((o) => o.metadata.labels?.[drainLabelKey] === 'true')) {
      const assigned = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
        method: 'PATCH',
        path: `${configMapsPath(namespace)}/${object.metadata.name ?? ''}`,
        contentType: 'application/merge-patch+json',
        body: {
          metadata: {
            resourceVersion: object.metadata.resourceVersion,
            labels: { [shardLabelKey]: null, [drainLabelKey]: null },
          },
        },
      });
      expect(assigned.metadata.labels?.[shardLabelKey]).toBe(`${ring}-d`);
    }
  });

  it("moves a dead shard's objects at once, without drain", async () => {
    const remaining = new HashRing(names('a', 'c', 'd'));
    const drainSeen: string[] = [];
    const watching = new AbortController();
    const listed = await rest.request<{ metadata: { resourceVersion: string } }>({
      path: configMapsPath(namespace),
    });
    const watch = rest.watch<{ metadata: { name: string; labels?: Record<string, string> } }>(
      configMapsPath(namespace),
      { resourceVersion: listed.metadata.resourceVersion },
      ({ object }) => {
        if (object.metadata.labels?.[drainLabelKey] !== undefined) drainSeen.push(object.metadata.name);
      },
      watching.signal,
    );
    await shards.find((shard) => shard.name === `${ring}-b`)?.leave();
    await eventually(async () => {
      for (const object of await listObjects(rest, configMapsPath(namespace))) {
        expect(object.metadata.labels?.[shardLabelKey]).toBe(
          remaining.shardFor(key(object.metadata.name ?? '')),
        );
      }
    });
    watching.abort();
    await watch;
    expect(drainSeen).toEqual([]);
  });
});

describe('metrics', () => {
  it("count the webhook's assignments, the sync's drains and the controllers' reconciles", async () => {
    const texts = await Promise.all(
      sharders.map((sharder) =>
        fetch(`http://127.0.0.1:${sharder.probePort}/metrics`).then((response) => response.text()),
      ),
    );
    const all = texts.join('\n');
    expect(all).toMatch(
      /controller_rings_webhook_requests_total\{ring="assign",result="assigned",code="200"\} [1-9]/,
    );
    expect(all).toMatch(/controller_rings_sync_actions_total\{ring="rebalance",action="drain"\} [1-9]/);
    expect(all).toMatch(
      /controller_runtime_reconcile_total\{controller="controllerring",result="success"\} [1-9]/,
    );
    expect(all).toMatch(/workqueue_adds_total\{name="sync",controller="sync"\} [1-9]/);
  });
});

describe('ring status and cleanup', () => {
  it('reports resources the API server does not serve', async () => {
    await createRing(rest, 'unknown-resource', {
      resources: [{ group: 'example.com', resource: 'widgets' }],
    });
    await eventually(async () => {
      const condition = (await getRing(rest, 'unknown-resource'))?.status?.conditions?.find(
        (c) => c.type === 'Ready',
      );
      expect(condition).toMatchObject({ status: 'False', reason: 'ResourceNotFound' });
      expect(condition?.message).toContain('widgets.example.com');
    });
  });

  it('reports a ring without shards as not ready, with observedGeneration', async () => {
    const created = await createRing(rest, 'no-shards', {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { team: 'none' } },
    });
    await eventually(async () => {
      const ring = await getRing(rest, 'no-shards');
      expect(ring?.status).toMatchObject({
        observedGeneration: created.metadata?.generation,
        shards: 0,
        availableShards: 0,
      });
      expect(ring?.status?.conditions?.[0]).toMatchObject({
        type: 'Ready',
        status: 'False',
        reason: 'NoAvailableShards',
      });
    });
  });

  it("removes a deleted ring's webhook configuration and its labels from the objects", async () => {
    const ring = 'rebalance';
    await rest.request({ method: 'DELETE', path: `${ringsPath}/${ring}` });
    await eventually(async () => {
      expect(await getRing(rest, ring)).toBeUndefined();
    });
    await expect(
      rest.request({
        path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-${ring}`,
      }),
    ).rejects.toMatchObject({ code: 404 });
    for (const object of await listObjects(rest, configMapsPath(ring))) {
      expect(object.metadata.labels?.[shardLabel(ring)]).toBeUndefined();
      expect(object.metadata.labels?.[drainLabel(ring)]).toBeUndefined();
    }
  });
});

describe('logs', () => {
  it('write each field once per line', async () => {
    const lines = (await Promise.all(sharders.map((sharder) => readLogLines(sharder.logPath)))).flat();
    // The controllers', the informers' and the webhook's lines are all there (at debug).
    for (const field of ['"controller":"sync"', '"informer":', '"component":"webhook"']) {
      expect({ field, lines: lines.some((line) => line.includes(field)) }).toEqual({ field, lines: true });
    }
    expect(lines.filter((line) => duplicateKeys(line).length > 0)).toEqual([]);
  });
});
