// A ring with `spec.assignment: Watch` (webhook-free assignment) on a real API server and a real sharder: it has
// no webhook configuration; its objects are written unlabelled and the sharder's watch of the unassigned
// objects labels them, controlled objects on their owner's shard; the watch holds exactly the objects without
// the shard label; switching to the webhook and back applies and deletes the webhook configuration. Runs its
// own control plane: the sharder acts on every ring of its cluster.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ringsPath, shardLabel } from '../../api/v1alpha1/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import { isNotFound, patchTypes, type RestClient } from '../../runtime/rest.ts';
import { configMapsPath, createConfigMap, webhookEffective } from '../support/configmap-rings.ts';
import { eventually } from '../support/eventually.ts';
import { joinFakeShard, type FakeShard } from '../support/fake-shard.ts';
import { scrape, valueOf } from '../support/metrics.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing, type Labelled } from '../support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../support/sharder.ts';

const ring = 'watched';
const namespace = 'objects';
// Left out by the ring's namespaceSelector until the test takes its label off.
const heldNamespace = 'held';
const excludedLabel = 'watch-test/excluded';
const sharderNamespace = 'sharder-system';
const label = shardLabel(ring);
const webhookConfigurationPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-${ring}`;
// Whatever the sharder must not count: the namespaces never sharded are left out of its watch.
const outsideExcluded = `metadata.namespace!=kube-system,metadata.namespace!=${sharderNamespace}`;
let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let sharder: SharderProcess | undefined;
const shards: FakeShard[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  await createNamespace(rest, sharderNamespace);
  await createNamespace(rest, namespace);
  await createNamespace(rest, heldNamespace, { [excludedLabel]: 'true' });
  sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: sharderNamespace,
    identity: 'sharder-0',
    certificates: await webhookCertificates(),
    // The sync runs at the ring's creation and on membership changes only: later objects are the watch's.
    args: ['--sync-period=1h', '--leader-elect=false'],
  });
});

afterAll(async () => {
  for (const shard of shards) shard.crash();
  await sharder?.stop();
  await cluster?.stop();
});

function secretsPath(): string {
  return `/api/v1/namespaces/${namespace}/secrets`;
}

/** A Secret controlled by the ConfigMap `owner` (or by nothing). */
function createSecret(name: string, owner?: Labelled): Promise<Labelled> {
  const ownerReferences =
    owner === undefined
      ? []
      : [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            name: owner.metadata.name ?? '',
            uid: owner.metadata.uid ?? '',
            controller: true,
          },
        ];
  return rest.request({ method: 'POST', path: secretsPath(), body: { metadata: { name, ownerReferences } } });
}

async function shardOf(path: string): Promise<string | undefined> {
  return (await rest.request<Labelled>({ path })).metadata.labels?.[label];
}

/** The objects of the ring's resources without its shard label, as the API server counts them. */
async function unassignedInCluster(): Promise<number> {
  let count = 0;
  for (const path of ['/api/v1/configmaps', '/api/v1/secrets']) {
    const list = await rest.request<{ items: unknown[] }>({
      path,
      query: { labelSelector: `!${label}`, fieldSelector: outsideExcluded },
    });
    count += list.items.length;
  }
  return count;
}

async function heldByWatch(): Promise<number | undefined> {
  if (sharder === undefined) throw new Error('no sharder');
  return valueOf(await scrape(sharder.probePort), 'controller_rings_assignment_watch_objects', { ring });
}

async function webhookConfigurationExists(): Promise<boolean> {
  try {
    await rest.request({ path: webhookConfigurationPath });
    return true;
  } catch (error) {
    if (isNotFound(error)) return false;
    throw error;
  }
}

async function setAssignment(assignment: 'Webhook' | 'Watch'): Promise<void> {
  await rest.request({
    method: 'PATCH',
    path: `${ringsPath}/${ring}`,
    contentType: patchTypes.merge,
    body: { spec: { assignment } },
  });
}

const owners = Array.from({ length: 8 }, (_, i) => `owner-${i}`);
const hashRing = new HashRing(['a', 'b']);
const desired = (name: string): string | undefined => hashRing.shardFor(`/ConfigMap/${namespace}/${name}`);

describe('a ring with assignment: Watch', () => {
  it('has no webhook configuration, and says so in its Ready condition', async () => {
    // Objects assigned before the ring (by hand): never in the watch, however many there are.
    for (let i = 0; i < 20; i++) {
      await rest.request({
        method: 'POST',
        path: configMapsPath(namespace),
        body: { metadata: { name: `assigned-${i}`, labels: { [label]: 'a' } } },
      });
    }
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
      // Trusting no namespace with shards yet: both shards join at once when it does (below).
      shardLeaseNamespaces: ['elsewhere'],
      namespaceSelector: { matchExpressions: [{ key: excludedLabel, operator: 'DoesNotExist' }] },
      assignment: 'Watch',
    });
    await eventually(async () => {
      const status = await getRing(rest, ring);
      expect(status?.status?.observedGeneration).toBe(status?.metadata?.generation);
      expect(status?.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain(
        'no shard has joined ring watched',
      );
    });
    expect(await webhookConfigurationExists()).toBe(false);
  });

  it('holds only the unassigned objects while no shard is available', async () => {
    for (const name of owners) {
      const owner = await createConfigMap(rest, namespace, name);
      expect(owner.metadata.labels?.[label]).toBeUndefined();
      await createSecret(`${name}-secret`, owner);
    }
    await createSecret('uncontrolled');
    const unassigned = await eventually(async () => {
      const count = await unassignedInCluster();
      expect(await heldByWatch()).toBe(count);
      return count;
    });
    // The 17 objects above, and whatever else the cluster holds unlabelled (kube-root-ca.crt ConfigMaps), but
    // not the 20 labelled ones.
    expect(unassigned).toBeGreaterThanOrEqual(owners.length * 2 + 1);
    const all = (await rest.request<{ items: unknown[] }>({ path: configMapsPath(namespace) })).items.length;
    expect(all).toBeGreaterThanOrEqual(owners.length + 20);
  });

  it("assigns them once shards join, controlled objects on their owner's shard", async () => {
    for (const name of ['a', 'b']) {
      await joinFakeShard(rest, shards, { ring, name, namespace: sharderNamespace, durationSeconds: 10 });
    }
    // A change of the ring, not of a Lease, makes both available: the watch tries its objects again.
    await rest.request({
      method: 'PATCH',
      path: `${ringsPath}/${ring}`,
      contentType: patchTypes.merge,
      body: { spec: { shardLeaseNamespaces: [sharderNamespace] } },
    });
    await eventually(async () => {
      for (const name of owners) {
        expect(await shardOf(`${configMapsPath(namespace)}/${name}`)).toBe(desired(name));
        expect(await shardOf(`${secretsPath()}/${name}-secret`)).toBe(desired(name));
      }
    });
    // A Secret without a controller is not the ring's: still unassigned, still held.
    expect(await shardOf(`${secretsPath()}/uncontrolled`)).toBeUndefined();
    await eventually(async () => {
      const count = await unassignedInCluster();
      expect(await heldByWatch()).toBe(count);
    });
    expect((await getRing(rest, ring))?.status?.conditions?.find((c) => c.type === 'Ready')?.message).toBe(
      "2 of 2 shards are available; new objects are assigned by the sharder's watch of unassigned objects (assignment: Watch, no webhook)",
    );
  });

  it('assigns objects written later, which the API server admits unlabelled', async () => {
    const later = Array.from({ length: 8 }, (_, i) => `later-${i}`);
    for (const name of later) {
      const created = await createConfigMap(rest, namespace, name);
      expect(created.metadata.labels?.[label]).toBeUndefined();
    }
    await eventually(async () => {
      for (const name of later) {
        expect(await shardOf(`${configMapsPath(namespace)}/${name}`)).toBe(desired(name));
      }
    });
  });

  it('holds the objects of namespaces its selector leaves out, and assigns them once it selects them', async () => {
    await createConfigMap(rest, heldNamespace, 'outside');
    const path = `${configMapsPath(heldNamespace)}/outside`;
    await eventually(async () => {
      expect(await heldByWatch()).toBe(await unassignedInCluster());
    });
    expect(await shardOf(path)).toBeUndefined();
    await rest.request({
      method: 'PATCH',
      path: `/api/v1/namespaces/${heldNamespace}`,
      contentType: patchTypes.merge,
      body: { metadata: { labels: { [excludedLabel]: null } } },
    });
    await eventually(async () => {
      expect(await shardOf(path)).toBe(hashRing.shardFor(`/ConfigMap/${heldNamespace}/outside`));
    });
  });

  it('gets its webhook configuration back, and its watch stopped, when switched to the webhook', async () => {
    await setAssignment('Webhook');
    await eventually(async () => {
      expect(await webhookConfigurationExists()).toBe(true);
      expect(await heldByWatch()).toBeUndefined();
    });
    await webhookEffective(rest, ring, namespace);
    const created = await createConfigMap(rest, namespace, 'by-webhook');
    expect(created.metadata.labels?.[label]).toBe(desired('by-webhook'));
  });

  it('loses its webhook configuration again when switched back to the watch', async () => {
    await setAssignment('Watch');
    await eventually(async () => {
      expect(await webhookConfigurationExists()).toBe(false);
      expect(await heldByWatch()).toBe(await unassignedInCluster());
    });
    // The API server drops the webhook with a lag: until then its calls would label the object.
    await eventually(async () => {
      const probe = await rest.request<Labelled>({
        method: 'POST',
        path: configMapsPath(namespace),
        query: { dryRun: 'All' },
        body: { metadata: { name: 'probe' } },
      });
      expect(probe.metadata.labels?.[label]).toBeUndefined();
    });
    const name = 'by-watch-again';
    expect((await createConfigMap(rest, namespace, name)).metadata.labels?.[label]).toBeUndefined();
    await eventually(async () => {
      expect(await shardOf(`${configMapsPath(namespace)}/${name}`)).toBe(desired(name));
    });
  });
});
