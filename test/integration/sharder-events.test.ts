// The Events the sharder records on a ControllerRing, read from the real API server as `kubectl describe` finds
// them (events.k8s.io/v1 in default, regarding the ring by uid): shards of the example controller (real
// processes) joining, one killed with SIGKILL (expired, dead, its Lease deleted once orphaned), the rebalances
// with their counts, a new sharder leader that tells nothing again, and a storm of 100 ignored shard Leases that
// makes a bounded number of Events whose series counts add up to 100; Leases left out as duplicates or from
// an untrusted namespace.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ringLabel } from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { createConfigMap, webhookEffective } from '../support/configmap-rings.ts';
import { startExampleShard, type ExampleShard } from '../support/example-shard.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing, listObjects } from '../support/rings.ts';
import {
  quickLeaderElection,
  sharderLeader,
  startSharder,
  webhookCertificates,
  type SharderProcess,
  type WebhookFiles,
} from '../support/sharder.ts';

interface RingEvent {
  metadata: { name: string; namespace: string };
  type: string;
  reason: string;
  action: string;
  note: string;
  reportingController: string;
  reportingInstance: string;
  regarding: { kind: string; name: string; uid?: string; namespace?: string };
  related?: { kind: string; name: string; namespace?: string };
  series?: { count: number; lastObservedTime: string };
}

let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let kubeconfigPath: string;
let certificates: WebhookFiles;
const sharders: SharderProcess[] = [];
let dir: string;
const shards: ExampleShard[] = [];
const sharderNamespace = 'sharder-system';
const shardNamespace = 'shards';

/** The ring's Events, as kubectl describe selects them: in default, regarding the ring's kind, name and uid. */
async function ringEvents(ring: string, reason?: string): Promise<RingEvent[]> {
  const uid = (await getRing(rest, ring))?.metadata?.uid;
  const list = await rest.request<{ items: RingEvent[] }>({
    path: '/apis/events.k8s.io/v1/namespaces/default/events',
    query: {
      fieldSelector: `regarding.kind=ControllerRing,regarding.name=${ring},regarding.uid=${uid ?? ''}`,
    },
  });
  return list.items.filter((event) => reason === undefined || event.reason === reason);
}

/** Occurrences an Event stands for. */
function occurrences(event: RingEvent): number {
  return event.series?.count ?? 1;
}

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  kubeconfigPath = cluster.controlPlane.kubeconfigPath;
  dir = await mkdtemp(join(tmpdir(), 'sharder-events-'));
  await createNamespace(rest, sharderNamespace);
  await createNamespace(rest, shardNamespace);
  certificates = await webhookCertificates();
  for (const identity of ['sharder-0', 'sharder-1']) {
    sharders.push(
      await startSharder({
        kubeconfigPath,
        namespace: sharderNamespace,
        identity,
        certificates,
        args: [...quickLeaderElection, '--sync-period=1m'],
      }),
    );
  }
});

afterAll(async () => {
  await Promise.all(shards.map((shard) => shard.kill()));
  // Graceful shutdown of the replicas the test did not kill: exit code 0 from SIGTERM.
  const running = sharders.filter((sharder) => sharder.running);
  const codes = await Promise.all(running.map((sharder) => sharder.stop()));
  await cluster?.stop();
  expect(codes).toEqual(running.map(() => 0));
});

const leader = (): Promise<string | undefined> => sharderLeader(rest, sharderNamespace);

describe('the shards of a ring', () => {
  const ring = 'events';
  const namespace = 'events-apps';
  const configMaps = 20;
  const name = (suffix: string): string => `${ring}-${suffix}`;
  const startShard = async (suffix: string): Promise<ExampleShard> => {
    const shard = await startExampleShard({
      kubeconfigPath,
      ring,
      name: name(suffix),
      namespace: shardNamespace,
      leaseDurationSeconds: 3,
      dir,
    });
    shards.push(shard);
    return shard;
  };
  /** The objects (ConfigMaps and their digest Secrets) the hash ring over `shards` gives `shard`. */
  const objectsOf = (shard: string, among: string[]): number => {
    const hashRing = new HashRing(among);
    let count = 0;
    for (let i = 0; i < configMaps; i++) {
      if (hashRing.shardFor(`/ConfigMap/${namespace}/object-${i}`) === shard) count += 2;
    }
    return count;
  };
  /** Objects moved and drained by the ring's finished rebalances so far. */
  const rebalanced = async (): Promise<{ moved: number; drained: number }> => {
    const sum = { moved: 0, drained: 0 };
    for (const event of await ringEvents(ring, 'RebalanceFinished')) {
      const [, moved, drained] = /moved (\d+) and drained (\d+) of/.exec(event.note) ?? [];
      sum.moved += Number(moved) * occurrences(event);
      sum.drained += Number(drained) * occurrences(event);
    }
    return sum;
  };

  beforeAll(async () => {
    await createNamespace(rest, namespace, { team: ring });
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
      namespaceSelector: { matchLabels: { team: ring } },
      shardLeaseNamespaces: [shardNamespace],
    });
  });

  it('tells that a shard joined, once, and of the rebalance onto it', async () => {
    await startShard('a');
    await webhookEffective(rest, ring, namespace);
    const joined = await eventually(async () => {
      const events = await ringEvents(ring, 'ShardJoined');
      expect(events).toHaveLength(1);
      return events[0];
    });
    expect(joined).toMatchObject({
      type: 'Normal',
      action: 'Join',
      note: `shard ${name('a')} joined the ring (Lease ${shardNamespace}/${name('a')})`,
      reportingController: 'controller-rings.io/sharder',
      reportingInstance: await leader(),
      metadata: { namespace: 'default' },
      regarding: { kind: 'ControllerRing', name: ring },
      related: { kind: 'Lease', namespace: shardNamespace, name: name('a') },
    });
    expect(joined?.regarding.namespace).toBeUndefined();
    const started = await eventually(async () => {
      const events = await ringEvents(ring, 'RebalanceStarted');
      expect(events).toHaveLength(1);
      return events[0];
    });
    expect(started?.note).toBe(
      `available shards changed from none to ${name('a')}: assigning the ring's objects`,
    );

    // Objects on a, then b joins: the rebalance drains b's share to it, as its Events count.
    for (let i = 0; i < configMaps; i++) await createConfigMap(rest, namespace, `object-${i}`);
    await eventually(async () => {
      expect(await listObjects(rest, `/api/v1/namespaces/${namespace}/secrets`)).toHaveLength(configMaps);
    });
    await startShard('b');
    const toB = objectsOf(name('b'), [name('a'), name('b')]);
    expect(toB).toBeGreaterThan(0);
    await eventually(async () => {
      expect(await rebalanced()).toEqual({ moved: 0, drained: toB });
    });
    const notes = (await ringEvents(ring, 'RebalanceStarted')).map((event) => event.note);
    expect(notes).toContain(
      `available shards changed from ${name('a')} to ${name('a')}, ${name('b')}: assigning the ring's objects`,
    );
    expect((await ringEvents(ring, 'ShardJoined')).map((event) => event.related?.name).sort()).toEqual([
      name('a'),
      name('b'),
    ]);
  });

  it('tells that a killed shard expired, was declared dead, its objects moved, and its Lease deleted', async () => {
    const b = shards.find((shard) => shard.name === name('b'));
    await b?.kill();
    const expired = await eventually(async () => {
      const events = await ringEvents(ring, 'ShardExpired');
      expect(events).toHaveLength(1);
      return events[0];
    });
    expect(expired).toMatchObject({ type: 'Warning', related: { name: name('b') } });
    const dead = await eventually(async () => {
      const events = await ringEvents(ring, 'ShardDead');
      expect(events).toHaveLength(1);
      return events[0];
    });
    expect(dead).toMatchObject({ type: 'Warning', action: 'Acquire', related: { name: name('b') } });
    expect(dead?.note).toMatch(/the sharder acquired it, the shard is dead/);
    // b's objects came back to a by moves, without drains.
    const toB = objectsOf(name('b'), [name('a'), name('b')]);
    await eventually(async () => {
      expect(await rebalanced()).toEqual({ moved: toB, drained: toB });
    });
    // Orphaned a minute after the acquisition's expiry: the sharder deletes the Lease.
    const deleted = await eventually(
      async () => {
        const events = await ringEvents(ring, 'ShardLeaseDeleted');
        expect(events).toHaveLength(1);
        return events[0];
      },
      { timeoutMs: 100_000, intervalMs: 1000 },
    );
    expect(deleted).toMatchObject({ type: 'Normal', action: 'Delete', related: { name: name('b') } });
    // a never left: no other transition of it.
    const aEvents = (await ringEvents(ring)).filter((event) => event.related?.name === name('a'));
    expect(aEvents.map((event) => event.reason)).toEqual(['ShardJoined']);
  }, 150_000);

  it('tells nothing again when another replica becomes the leader: the state labels say what was told', async () => {
    const former = await leader();
    await sharders.find((sharder) => sharder.identity === former)?.kill();
    const successor = await eventually(async () => {
      const now = await leader();
      expect(now).not.toBe(former);
      return now;
    });
    // The new leader's shard lease controller takes up every Lease first, then c's.
    await startShard('c');
    await eventually(async () => {
      const joined = (await ringEvents(ring, 'ShardJoined')).find(
        (event) => event.related?.name === name('c'),
      );
      expect(joined?.reportingInstance).toBe(successor);
    });
    const told = (await ringEvents(ring)).filter((event) => event.reason.startsWith('Shard'));
    expect(told.map((event) => `${event.reason} ${event.related?.name ?? ''}`).sort()).toEqual(
      [
        `ShardJoined ${name('a')}`,
        `ShardJoined ${name('b')}`,
        `ShardExpired ${name('b')}`,
        `ShardDead ${name('b')}`,
        `ShardLeaseDeleted ${name('b')}`,
        `ShardJoined ${name('c')}`,
      ].sort(),
    );
    expect(told.filter((event) => occurrences(event) > 1)).toEqual([]);
  }, 60_000);
});

describe('a storm of ignored shard Leases', () => {
  const ring = 'events-storm';
  const leases = 100;

  beforeAll(async () => {
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { team: ring } },
      shardLeaseNamespaces: [shardNamespace],
    });
    await eventually(async () => {
      expect((await getRing(rest, ring))?.status?.observedGeneration).toBe(1);
    });
  });

  it('makes a bounded number of Events whose series count every Lease', async () => {
    // Names longer than a label value may be: never shards, each left out as InvalidName.
    const long = 'x'.repeat(60);
    for (let i = 0; i < leases; i++) {
      await rest.request({
        method: 'POST',
        path: `/apis/coordination.k8s.io/v1/namespaces/${shardNamespace}/leases`,
        body: {
          metadata: { name: `${long}-${String(i).padStart(3, '0')}`, labels: { [ringLabel]: ring } },
          spec: { holderIdentity: 'nobody', leaseDurationSeconds: 30 },
        },
      });
    }
    // The recorder patches a series at most every 30 s.
    const events = await eventually(
      async () => {
        const ignored = await ringEvents(ring, 'ShardLeaseIgnored');
        expect(ignored.reduce((sum, event) => sum + occurrences(event), 0)).toBe(leases);
        return ignored;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    // Ten Events of their own (client-go's aggregator: 10 different notes in 10 minutes), then one combined.
    expect(events.length).toBeLessThanOrEqual(11);
    expect(events.every((event) => event.type === 'Warning')).toBe(true);
    const combined = events.filter((event) => event.note.startsWith('(combined from similar events)'));
    expect(combined).toHaveLength(1);
    expect(combined[0]?.series?.count).toBe(leases - (events.length - 1));
    expect(combined[0]?.related).toBeUndefined();
    expect(events.find((event) => event.series === undefined)?.note).toMatch(/InvalidName/);
  }, 90_000);
});

describe('shard Leases a ring leaves out', () => {
  const ring = 'events-ignored';
  const trusted = ['events-shards-1', 'events-shards-2'];
  const untrusted = 'events-elsewhere';

  beforeAll(async () => {
    for (const namespace of [...trusted, untrusted]) await createNamespace(rest, namespace);
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { team: ring } },
      shardLeaseNamespaces: trusted,
    });
  });

  it('tells of a duplicate name as a Warning and of an untrusted namespace as Normal, naming the Lease', async () => {
    const lease = (namespace: string, name: string) =>
      rest.request({
        method: 'POST',
        path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`,
        body: {
          metadata: { name, labels: { [ringLabel]: ring } },
          spec: { holderIdentity: name, leaseDurationSeconds: 30 },
        },
      });
    // The same shard name in both trusted namespaces: neither is a shard. And one where the ring does not look.
    for (const namespace of trusted) await lease(namespace, 'twin');
    await lease(untrusted, 'stray');
    const ignored = await eventually(async () => {
      const events = await ringEvents(ring, 'ShardLeaseIgnored');
      expect(events).toHaveLength(3);
      return events;
    });
    const told = ignored
      .map(({ type, note, related }) => ({
        type,
        reason: /\((\w+)\)$/.exec(note)?.[1],
        lease: `${related?.namespace ?? ''}/${related?.name ?? ''}`,
      }))
      .sort((a, b) => a.lease.localeCompare(b.lease));
    expect(told).toEqual([
      { type: 'Normal', reason: 'UntrustedNamespace', lease: `${untrusted}/stray` },
      { type: 'Warning', reason: 'DuplicateName', lease: `${trusted[0] ?? ''}/twin` },
      { type: 'Warning', reason: 'DuplicateName', lease: `${trusted[1] ?? ''}/twin` },
    ]);
  });
});
