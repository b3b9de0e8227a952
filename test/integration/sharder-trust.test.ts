// Which shard Leases a ring trusts, with a real sharder process against the real API server: a Lease whose
// name cannot be a label value, a Lease in a namespace the ring does not trust, and two Leases of one name
// never become shards; the ring's Ready condition names the Leases that must be fixed. Shards are stood in
// for by Leases the test keeps itself (FakeShard).
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { drainLabel, shardLabel, stateLabel, type Condition } from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { configMapsPath, createConfigMap, webhookEffective } from '../support/configmap-rings.ts';
import { joinFakeShard, type FakeShard } from '../support/fake-shard.ts';
import { readLogEntries } from '../support/log-lines.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing, listObjects } from '../support/rings.ts';
import {
  startSharder,
  webhookCertificates,
  type SharderProcess,
  type WebhookFiles,
} from '../support/sharder.ts';

let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let certificates: WebhookFiles;
let sharder: SharderProcess | undefined;
const sharderNamespace = 'sharder-system';
/** The namespaces the rings trust, and one where anyone may create Leases. */
const trusted = 'shards';
const alsoTrusted = 'shards-2';
const untrusted = 'elsewhere';
const shards: FakeShard[] = [];

function joinShard(
  ring: string,
  name: string,
  namespace = trusted,
  durationSeconds = 30,
): Promise<FakeShard> {
  return joinFakeShard(rest, shards, { ring, name, namespace, durationSeconds });
}

function leasePath(namespace: string, name: string): string {
  return `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`;
}

function readLease(namespace: string, name: string): Promise<ILease> {
  return rest.request<ILease>({ path: leasePath(namespace, name) });
}

async function readyCondition(ring: string): Promise<Condition | undefined> {
  return (await getRing(rest, ring))?.status?.conditions?.find((c) => c.type === 'Ready');
}

/** A ring of the ConfigMaps in `namespace` (created, labelled for the ring) that trusts `shardLeaseNamespaces`. */
async function createTeamRing(
  ring: string,
  namespace: string,
  shardLeaseNamespaces: string[],
): Promise<void> {
  await createNamespace(rest, namespace, { team: ring });
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps' }],
    namespaceSelector: { matchLabels: { team: ring } },
    shardLeaseNamespaces,
  });
}

/** Creates `count` ConfigMaps, object-0 on, and expects the webhook to give each to `shard`. */
async function expectCreatesAssignedTo(
  ring: string,
  namespace: string,
  count: number,
  shard: string,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const object = await createConfigMap(rest, namespace, `object-${i}`);
    expect(object.metadata.labels?.[shardLabel(ring)]).toBe(shard);
  }
}

/** The sharder's log lines (JSON) about Leases it left out of a ring. */
async function leftOutLogLines(): Promise<Record<string, unknown>[]> {
  const lines = await readLogEntries(join(certificates.dir, 'sharder-0.log'));
  return lines.filter((line) => line.msg === 'shard lease left out of the ring');
}

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  for (const name of [sharderNamespace, trusted, alsoTrusted, untrusted]) await createNamespace(rest, name);
  certificates = await webhookCertificates();
  sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: sharderNamespace,
    identity: 'sharder-0',
    certificates,
    args: ['--leader-elect=false', '--sync-period=1m'],
  });
});

afterAll(async () => {
  for (const shard of shards) shard.crash();
  await sharder?.stop();
  await cluster?.stop();
});

describe('a shard Lease whose name is not a valid label value', () => {
  const ring = 'long-name';
  const namespace = 'long-name-objects';
  const longName = 'l'.repeat(64);

  beforeAll(async () => {
    await createTeamRing(ring, namespace, [trusted]);
    await joinShard(ring, `${ring}-a`);
    await joinShard(ring, longName);
    await webhookEffective(rest, ring, namespace);
  });

  it("does not block creates of the ring's objects: they all go to the valid shard", async () => {
    await expectCreatesAssignedTo(ring, namespace, 20, `${ring}-a`);
  });

  it('makes the ring not Ready, with a message naming the Lease', async () => {
    await eventually(async () => {
      const condition = await readyCondition(ring);
      expect(condition).toMatchObject({ status: 'False', reason: 'InvalidShardLease' });
      expect(condition?.message).toContain(`${trusted}/${longName}`);
      expect((await getRing(rest, ring))?.status).toMatchObject({ shards: 1, availableShards: 1 });
    });
  });

  it('is left alone by the sharder, and logged once', async () => {
    await eventually(async () => {
      expect((await readLease(trusted, `${ring}-a`)).metadata?.labels?.[stateLabel]).toBe('ready');
    });
    expect((await readLease(trusted, longName)).metadata?.labels?.[stateLabel]).toBeUndefined();
    const lines = (await leftOutLogLines()).filter((line) => line.ring === ring);
    expect(lines).toEqual([
      expect.objectContaining({ lease: `${trusted}/${longName}`, reason: 'InvalidName', level: 40 }),
    ]);
  });
});

describe('a shard Lease in a namespace the ring does not trust', () => {
  const ring = 'untrusted';
  const namespace = 'untrusted-objects';
  const objects = 40;
  const key = (name: string): string => `/ConfigMap/${namespace}/${name}`;

  beforeAll(async () => {
    await createTeamRing(ring, namespace, [trusted]);
    await joinShard(ring, `${ring}-a`);
    // Whoever may create Leases elsewhere: a shard of their own, and one named like the real shard.
    await joinShard(ring, `${ring}-intruder`, untrusted);
    await joinShard(ring, `${ring}-a`, untrusted);
    await webhookEffective(rest, ring, namespace);
  });

  it('gets no objects at admission, and does not change Ready', async () => {
    await expectCreatesAssignedTo(ring, namespace, objects, `${ring}-a`);
    await eventually(async () => {
      expect(await readyCondition(ring)).toMatchObject({
        status: 'True',
        message:
          '1 of 1 shards are available; new objects are assigned by the admission webhook (assignment: Webhook)',
      });
    });
  });

  it('gets no objects from the sync: only a trusted shard that joins is drained to', async () => {
    await joinShard(ring, `${ring}-b`);
    const joined = new HashRing([`${ring}-a`, `${ring}-b`]);
    // Nothing acknowledges the drains, so the drained objects are exactly those the sync moves.
    await eventually(async () => {
      const drained = (await listObjects(rest, configMapsPath(namespace)))
        .filter((o) => o.metadata.labels?.[drainLabel(ring)] === 'true')
        .map((o) => o.metadata.name);
      const toB = Array.from({ length: objects }, (_, i) => `object-${i}`).filter(
        (name) => joined.shardFor(key(name)) === `${ring}-b`,
      );
      expect(toB.length).toBeGreaterThan(0);
      expect(drained.sort()).toEqual(toB.sort());
    });
  });

  it('is never touched by the sharder', async () => {
    await eventually(async () => {
      expect((await readLease(trusted, `${ring}-b`)).metadata?.labels?.[stateLabel]).toBe('ready');
    });
    for (const name of [`${ring}-intruder`, `${ring}-a`]) {
      expect((await readLease(untrusted, name)).metadata?.labels?.[stateLabel]).toBeUndefined();
    }
  });

  it('is named in NoAvailableShards, with how to trust its namespace, when the ring has no shard', async () => {
    const lonely = 'untrusted-only';
    await createRing(rest, lonely, {
      resources: [{ resource: 'secrets' }],
      namespaceSelector: { matchLabels: { team: lonely } },
    });
    await joinShard(lonely, `${lonely}-a`, untrusted);
    await eventually(async () => {
      const condition = await readyCondition(lonely);
      expect(condition).toMatchObject({ status: 'False', reason: 'NoAvailableShards' });
      expect(condition?.message).toContain(`${untrusted}/${lonely}-a`);
      expect(condition?.message).toContain('spec.shardLeaseNamespaces');
    });
  });
});

describe('two shard Leases of one name in two trusted namespaces', () => {
  const ring = 'duplicate';
  const namespace = 'duplicate-objects';
  let second: FakeShard;

  beforeAll(async () => {
    await createTeamRing(ring, namespace, [trusted, alsoTrusted]);
    await joinShard(ring, `${ring}-a`);
    // The second Lease of the name appears while the first exists, so it is never a shard; it renews rarely,
    // so that only the removal of its namesake can bring it into the ring within the test's wait.
    second = await joinShard(ring, `${ring}-b`, alsoTrusted);
    await joinShard(ring, `${ring}-b`, trusted, 600);
    await webhookEffective(rest, ring, namespace);
  });

  it('gives neither of them objects', async () => {
    await expectCreatesAssignedTo(ring, namespace, 20, `${ring}-a`);
  });

  it('makes the ring not Ready with DuplicateShardLease, naming both Leases', async () => {
    await eventually(async () => {
      const condition = await readyCondition(ring);
      expect(condition).toMatchObject({ status: 'False', reason: 'DuplicateShardLease' });
      expect(condition?.message).toContain(`${trusted}/${ring}-b`);
      expect(condition?.message).toContain(`${alsoTrusted}/${ring}-b`);
    });
    const lines = (await leftOutLogLines()).filter((line) => line.ring === ring);
    expect(lines.map((line) => [line.lease, line.reason]).sort()).toEqual([
      [`${alsoTrusted}/${ring}-b`, 'DuplicateName'],
      [`${trusted}/${ring}-b`, 'DuplicateName'],
    ]);
    expect((await readLease(trusted, `${ring}-b`)).metadata?.labels?.[stateLabel]).toBeUndefined();
  });

  it('takes the remaining Lease into the ring once the other is gone', async () => {
    second.crash();
    await rest.request({ method: 'DELETE', path: leasePath(alsoTrusted, `${ring}-b`) });
    await eventually(async () => {
      expect(await readyCondition(ring)).toMatchObject({
        status: 'True',
        message:
          '2 of 2 shards are available; new objects are assigned by the admission webhook (assignment: Webhook)',
      });
      expect((await readLease(trusted, `${ring}-b`)).metadata?.labels?.[stateLabel]).toBe('ready');
    });
  });
});
