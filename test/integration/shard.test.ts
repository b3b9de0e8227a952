// The shard library through the example controller, as real processes with a real sharder: shards keep their
// Leases, reconcile only their own objects (and controlled objects land with their owner), acknowledge drains
// instead of reconciling, hand controlled objects over before their owner, and release their Lease on graceful
// shutdown.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { drainLabel, ringLabel, shardLabel } from '../../api/v1alpha1/index.ts';
import { ExpectedError } from '../../runtime/expected-error.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { digestOf, digestSecretName } from '../../examples/configmap-digest/controller.ts';
import { Shard } from '../../shard/shard.ts';
import { HashRing } from '../../sharding/ring.ts';
import { eventually } from '../support/eventually.ts';
import { duplicateKeys, readLogLines } from '../support/log-lines.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { readRecords, startExampleShard, type ExampleShard } from '../support/example-shard.ts';
import { createNamespace, createRing, getRing, listObjects, type Labelled } from '../support/rings.ts';
import {
  startSharder,
  webhookCertificates,
  type SharderProcess,
  type WebhookFiles,
} from '../support/sharder.ts';

const ring = 'configmap-digest';
const namespace = 'apps';
const shardNamespace = 'shards';
let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let files: WebhookFiles;
let sharder: SharderProcess | undefined;
const shards = new Map<string, ExampleShard>();

async function startShard(name: string): Promise<ExampleShard> {
  const shard = await startExampleShard({
    kubeconfigPath: cluster?.controlPlane.kubeconfigPath ?? '',
    ring,
    name,
    namespace: shardNamespace,
    leaseDurationSeconds: 4,
    dir: files.dir,
  });
  shards.set(name, shard);
  return shard;
}

const configMaps = `/api/v1/namespaces/${namespace}/configmaps`;

/** Every ConfigMap has its digest Secret, on the same shard, with the current digest. */
async function allReconciled(): Promise<Labelled[]> {
  const objects = await listObjects(rest, configMaps);
  const secrets = new Map(
    ((await listObjects(rest, `/api/v1/namespaces/${namespace}/secrets`)) as ISecret[]).map((s) => [
      s.metadata?.name,
      s,
    ]),
  );
  for (const object of objects) {
    const secret = secrets.get(digestSecretName(object.metadata.name ?? ''));
    expect(secret?.data?.digest).toBe(btoa(digestOf(object as never)));
    expect(secret?.metadata?.labels?.[shardLabel(ring)]).toBe(object.metadata.labels?.[shardLabel(ring)]);
  }
  return objects;
}

/** A name of a ConfigMap that the hash ring of both shards puts on `shard`. */
function nameOn(shard: string, prefix: string): string {
  const hashRing = new HashRing(['shard-0', 'shard-1']);
  for (let i = 0; ; i++) {
    if (hashRing.shardFor(`/ConfigMap/${namespace}/${prefix}-${i}`) === shard) return `${prefix}-${i}`;
  }
}

/** Creates a ConfigMap labelled for `shard` (so the webhook leaves it there), whose shard reconciles it. */
async function createOn(shard: string, name: string): Promise<void> {
  await rest.request({
    method: 'POST',
    path: configMaps,
    body: { metadata: { name, labels: { [shardLabel(ring)]: shard } }, data: { name } },
  });
}

/** The digest Secret of ConfigMap `name`; throws unless it is on `shard`. */
async function secretOf(name: string, shard: string): Promise<ISecret> {
  const secret = await rest.request<ISecret>({
    path: `/api/v1/namespaces/${namespace}/secrets/${digestSecretName(name)}`,
  });
  expect(secret.metadata?.labels?.[shardLabel(ring)]).toBe(shard);
  return secret;
}

/**
 * The errors of `shard`'s reconciles of ConfigMap `name`, with their status reason if any; with `onArrival`,
 * only those until its first reconcile that ended without one. Later errors are not the protocol's: the shard's
 * cache may lag behind its own last write (a 409 Conflict on the copy it just replaced), as any controller's
 * does, and the reconcile is retried.
 */
async function refusedOrFailed(shard: string, name: string, { onArrival = false } = {}): Promise<string[]> {
  const ends = (await readRecords(shards.get(shard)?.recordFile ?? '')).filter(
    (r) => r.object === `${namespace}/${name}` && r.event === 'end',
  );
  const firstSuccess = ends.findIndex((r) => r.error === undefined);
  return ends
    .slice(0, onArrival && firstSuccess >= 0 ? firstSuccess : ends.length)
    .filter((r) => r.error !== undefined)
    .map((r) => (r.reason === undefined ? (r.error ?? '') : `${r.reason}: ${r.error ?? ''}`));
}

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  for (const name of ['sharder-system', shardNamespace]) await createNamespace(rest, name);
  await createNamespace(rest, namespace, { sharded: 'true' });
  files = await webhookCertificates();
  sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: 'sharder-system',
    identity: 'sharder-0',
    certificates: files,
    args: ['--leader-elect=false', '--sync-period=30s'],
  });
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
    namespaceSelector: { matchLabels: { sharded: 'true' } },
    shardLeaseNamespaces: [shardNamespace],
  });
  for (const name of ['shard-0', 'shard-1']) await startShard(name);
  await eventually(async () => {
    expect((await getRing(rest, ring))?.status?.availableShards).toBe(2);
  });
});

afterAll(async () => {
  await Promise.all([...shards.values()].map((shard) => shard.stop()));
  await sharder?.stop();
  await cluster?.stop();
});

describe('shard library', () => {
  it('keeps a shard Lease labelled with the ring and held by the shard', async () => {
    const lease = await rest.request<ILease>({
      path: `/apis/coordination.k8s.io/v1/namespaces/${shardNamespace}/leases/shard-0`,
    });
    expect(lease.metadata?.labels?.[ringLabel]).toBe(ring);
    expect(lease.spec?.holderIdentity).toBe('shard-0');
    expect(lease.spec?.leaseDurationSeconds).toBe(4);
  });

  it('reconciles every object on its own shard only, controlled objects with their owner', async () => {
    for (let i = 0; i < 20; i++) {
      await rest.request({
        method: 'POST',
        path: configMaps,
        body: { metadata: { name: `config-${i}` }, data: { i: String(i) } },
      });
    }
    const objects = await eventually(allReconciled, { timeoutMs: 30_000 });
    const shardOf = new Map(
      objects.map((o) => [`${namespace}/${o.metadata.name ?? ''}`, o.metadata.labels?.[shardLabel(ring)]]),
    );
    for (const [name, shard] of shards) {
      for (const record of await readRecords(shard.recordFile)) {
        expect({ object: record.object, shard: shardOf.get(record.object) }).toEqual({
          object: record.object,
          shard: name,
        });
      }
    }
  });

  it('acknowledges a drain instead of reconciling, and the object moves on', async () => {
    const [object] = await listObjects(rest, configMaps);
    const name = object?.metadata.name ?? '';
    const key = `${namespace}/${name}`;
    const owner = shards.get(object?.metadata.labels?.[shardLabel(ring)] ?? '');
    const drained = await rest.request<Labelled>({
      method: 'PATCH',
      path: `${configMaps}/${name}`,
      contentType: 'application/merge-patch+json',
      // The drain label and a data change in one write: a shard that reconciled it would record this version.
      body: { metadata: { labels: { [drainLabel(ring)]: 'true' } }, data: { changed: 'yes' } },
    });
    await eventually(async () => {
      const log = await readFile(owner?.logPath ?? '', 'utf8');
      expect(log).toMatch(new RegExp(`"object":"${key}"[^\\n]*"msg":"acknowledged drain`));
    });
    const reconciledDrainedVersion = (await readRecords(owner?.recordFile ?? '')).filter(
      (r) => r.object === key && r.resourceVersion === drained.metadata.resourceVersion,
    );
    expect(reconciledDrainedVersion).toEqual([]);
    // The acknowledgement removed both labels; the webhook assigned the object again (to the same shard, as
    // membership did not change) and the change was reconciled there.
    await eventually(async () => {
      const current = await rest.request<Labelled>({ path: `${configMaps}/${name}` });
      expect(current.metadata.labels?.[drainLabel(ring)]).toBeUndefined();
      expect(current.metadata.labels?.[shardLabel(ring)]).toBe(owner?.name);
      await allReconciled();
    });
  });

  it("hands a drained object's controlled objects over before the object, and the new shard finds them", async () => {
    // On the shard it does not hash to, with its Secret there too: a drain moves both to the other shard.
    const name = nameOn('shard-0', 'handover');
    await createOn('shard-1', name);
    await eventually(() => secretOf(name, 'shard-1'));
    await rest.request({
      method: 'PATCH',
      path: `${configMaps}/${name}`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { [drainLabel(ring)]: 'true' } } },
    });
    const moved = await eventually(async () => {
      const current = await rest.request<Labelled>({ path: `${configMaps}/${name}` });
      expect(current.metadata.labels?.[shardLabel(ring)]).toBe('shard-0');
      return current;
    });
    const handedOver = await eventually(() => secretOf(name, 'shard-0'));
    // Handed over before its owner (the resourceVersions of one etcd are comparable), though the sharder
    // drained only the owner: the shard drained the Secret itself, so that the webhook assigned it anew.
    expect(Number(handedOver.metadata?.resourceVersion)).toBeLessThan(Number(moved.metadata.resourceVersion));
    await eventually(allReconciled);
    expect(await refusedOrFailed('shard-0', name, { onArrival: true })).toEqual([]);
  });

  it('does not act on a controlled object that is not on its shard yet, and reconciles once it is', async () => {
    const name = nameOn('shard-0', 'split');
    await createOn('shard-1', name);
    await eventually(() => secretOf(name, 'shard-1'));
    // The owner alone moves on, as when membership changes between the two handovers' admissions.
    await rest.request({
      method: 'PATCH',
      path: `${configMaps}/${name}`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { [shardLabel(ring)]: 'shard-0' } }, data: { moved: 'alone' } },
    });
    const waiting = `secrets ${namespace}/${digestSecretName(name)} is on shard shard-1, not yet on this one`;
    await eventually(async () => {
      const errors = await refusedOrFailed('shard-0', name);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.filter((error) => !error.includes(waiting))).toEqual([]);
    });
    // The sharder drains the Secret from shard-1, which holds it without its owner: it hands it over at once.
    await rest.request({
      method: 'PATCH',
      path: `/api/v1/namespaces/${namespace}/secrets/${digestSecretName(name)}`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { [drainLabel(ring)]: 'true' } } },
    });
    await eventually(allReconciled);
    const onArrival = await refusedOrFailed('shard-0', name, { onArrival: true });
    expect(onArrival.filter((error) => !error.includes(waiting))).toEqual([]);
  });

  it('refuses to join with a resource the API server does not serve, and leaves no Lease held', async () => {
    const shard = new Shard({
      ring,
      name: 'misconfigured',
      namespace: shardNamespace,
      kubeConfig: cluster?.kubeConfig ?? new KubeConfig(),
      logger: pino({ level: 'silent' }),
      leaseDurationSeconds: 4,
    });
    shard.addController({
      name: 'widgets',
      resource: { group: 'example.com', resource: 'widgets' },
      reconcile: () => Promise.resolve(),
    });
    const lost = jest.fn();
    shard.onLost(lost);
    await expect(shard.start()).rejects.toThrow('the API server does not serve widgets.example.com');
    const lease = await rest.request<ILease>({
      path: `/apis/coordination.k8s.io/v1/namespaces/${shardNamespace}/leases/misconfigured`,
    });
    expect(lease.spec?.holderIdentity ?? '').toBe('');
    expect(lost).not.toHaveBeenCalled();
  });

  it('releases its Lease on graceful shutdown, and its objects move to the other shards', async () => {
    const leaving = shards.get('shard-1');
    expect(await leaving?.stop()).toBe(0);
    shards.delete('shard-1');
    const lease = await rest.request<ILease>({
      path: `/apis/coordination.k8s.io/v1/namespaces/${shardNamespace}/leases/shard-1`,
    });
    expect(lease.spec?.holderIdentity ?? '').toBe('');
    await eventually(
      async () => {
        const objects = await allReconciled();
        expect(objects.every((o) => o.metadata.labels?.[shardLabel(ring)] === 'shard-0')).toBe(true);
      },
      { timeoutMs: 30_000 },
    );
  });

  it('logs a failed reconcile at error with its Status, an expected failure at debug, each field once', async () => {
    const logsRing = 'logs';
    await createNamespace(rest, logsRing, { logs: 'true' });
    await createRing(rest, logsRing, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { logs: 'true' } },
      shardLeaseNamespaces: [shardNamespace],
    });
    const path = `/api/v1/namespaces/${logsRing}/configmaps`;
    // Assigned by the sync when the shard joins: the ring's webhook may not be in effect yet.
    await rest.request({ method: 'POST', path, body: { metadata: { name: 'c' } } });
    const lines: string[] = [];
    const shard = new Shard({
      ring: logsRing,
      name: 'logs-0',
      namespace: shardNamespace,
      kubeConfig: cluster?.kubeConfig ?? new KubeConfig(),
      // An author's logger, without the library's serializers.
      logger: pino({ level: 'debug' }, { write: (line: string) => lines.push(line.trimEnd()) }),
      leaseDurationSeconds: 4,
    });
    let attempts = 0;
    shard.addController({
      name: 'create-if-absent',
      resource: { group: '', resource: 'configmaps' },
      namespace: logsRing,
      async reconcile(object, { client }) {
        attempts++;
        // A genuine failure first: a create of what exists. Then an expected one. Then success.
        if (attempts === 1) await client.request({ method: 'POST', path, body: { metadata: { name: 'c' } } });
        if (attempts === 2) throw new ExpectedError(`${object.metadata?.name ?? ''} changed meanwhile`);
      },
    });
    await shard.start();
    try {
      await eventually(() => {
        expect(attempts).toBe(3);
      });
    } finally {
      await shard.stop();
    }
    const failures = lines
      .map((line) => JSON.parse(line) as { msg: string })
      .filter((line) => line.msg === 'handler failed, retrying with backoff');
    const fields = { ring: logsRing, shard: 'logs-0', controller: 'create-if-absent', key: `${logsRing}/c` };
    expect(failures).toEqual([
      {
        ...fields,
        level: 50,
        retries: 0,
        err: {
          type: 'ApiError',
          code: 409,
          reason: 'AlreadyExists',
          message: `POST ${path}: configmaps "c" already exists`,
        },
        time: expect.any(Number),
        pid: expect.any(Number),
        hostname: expect.any(String),
        msg: 'handler failed, retrying with backoff',
      },
      expect.objectContaining({
        ...fields,
        level: 20,
        retries: 1,
        err: expect.objectContaining({ type: 'ExpectedError' }),
      }),
    ]);
    expect(lines.filter((line) => duplicateKeys(line).length > 0)).toEqual([]);
  });

  it("writes each field once in every line of the shards' and the sharder's logs", async () => {
    const logs = (await readdir(files.dir)).filter((file) => file.endsWith('.log'));
    const lines = (await Promise.all(logs.map((file) => readLogLines(join(files.dir, file))))).flat();
    // The lines of the shards' controllers and reconciles are there (at debug): ring, shard, controller, object.
    const reconcileLines = lines.filter((line) => line.includes('"msg":"acknowledged drain'));
    expect(reconcileLines.length).toBeGreaterThan(0);
    expect(reconcileLines.map((line) => JSON.parse(line) as unknown)).toContainEqual(
      expect.objectContaining({ ring, shard: expect.any(String), controller: 'configmap-digest' }),
    );
    expect(lines.filter((line) => duplicateKeys(line).length > 0)).toEqual([]);
  });
});
