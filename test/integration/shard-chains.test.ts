// The shard library with a chain of controlled resources (controlledResources[].owner) on a real API server:
// ConfigMap (the ring resource) → Secret → ServiceAccount → ResourceQuota (3 levels), labelled by hand (no
// sharder runs). A change at the deepest level triggers the root's reconcile; the root's drain hands over every
// level, the deepest first; a drained object whose owners above are not on the shard is handed over without
// them.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { drainLabel, shardLabel } from '../../api/v1alpha1/index.ts';
import { RestClient } from '../../runtime/rest.ts';
import { Shard, type KubeObject } from '../../shard/shard.ts';
import { eventually } from '../support/eventually.ts';
import { testKubeConfig } from '../support/kube.ts';
import { createNamespace, type Labelled } from '../support/rings.ts';

const ring = 'chain-shard';
const namespace = 'shard-chains';
const shardNamespace = 'shard-chains-leases';
const kubeConfig = testKubeConfig();
const rest = new RestClient(kubeConfig);
const reconciled: string[] = [];
let shard: Shard;

const paths = {
  configmaps: `/api/v1/namespaces/${namespace}/configmaps`,
  secrets: `/api/v1/namespaces/${namespace}/secrets`,
  serviceaccounts: `/api/v1/namespaces/${namespace}/serviceaccounts`,
  resourcequotas: `/api/v1/namespaces/${namespace}/resourcequotas`,
};
const kinds = {
  configmaps: 'ConfigMap',
  secrets: 'Secret',
  serviceaccounts: 'ServiceAccount',
  resourcequotas: 'ResourceQuota',
};
const ownerOf = {
  configmaps: 'configmaps',
  secrets: 'configmaps',
  serviceaccounts: 'secrets',
  resourcequotas: 'serviceaccounts',
} as const;
type Level = keyof typeof paths;

/** Creates `name` of `level` on `onShard`, controlled by `owner` (an object created before). */
async function create(level: Level, name: string, onShard: string, owner?: Labelled): Promise<Labelled> {
  const ownerLevel = ownerOf[level];
  const ownerReferences =
    owner === undefined
      ? undefined
      : [
          {
            apiVersion: 'v1',
            kind: kinds[ownerLevel],
            name: owner.metadata.name ?? '',
            uid: owner.metadata.uid ?? '',
            controller: true,
          },
        ];
  return rest.request<Labelled>({
    method: 'POST',
    path: paths[level],
    body: {
      metadata: { name, labels: { [shardLabel(ring)]: onShard }, ownerReferences },
      ...(level === 'resourcequotas' ? { spec: {} } : {}),
    },
  });
}

async function patchLabels(level: Level, name: string, labels: Record<string, string | null>): Promise<void> {
  await rest.request({
    method: 'PATCH',
    path: `${paths[level]}/${name}`,
    contentType: 'application/merge-patch+json',
    body: { metadata: { labels } },
  });
}

const get = (level: Level, name: string): Promise<Labelled> =>
  rest.request<Labelled>({ path: `${paths[level]}/${name}` });

beforeAll(async () => {
  await createNamespace(rest, namespace);
  await createNamespace(rest, shardNamespace);
  shard = new Shard({
    ring,
    name: 's1',
    namespace: shardNamespace,
    kubeConfig,
    logger: pino({ level: 'silent' }),
    leaseDurationSeconds: 10,
  });
  shard.addController({
    name: 'chain',
    resource: { group: '', resource: 'configmaps' },
    controlledResources: [
      { group: '', resource: 'resourcequotas', owner: { group: '', resource: 'serviceaccounts' } },
      { group: '', resource: 'serviceaccounts', owner: { group: '', resource: 'secrets' } },
      { group: '', resource: 'secrets' },
    ],
    namespace,
    reconcile: (object: KubeObject) => {
      reconciled.push(object.metadata?.name ?? '');
      return Promise.resolve();
    },
  });
  await shard.start();
}, 60_000);

afterAll(async () => {
  await shard.stop();
  rest.close();
});

describe('a shard with a chain ConfigMap → Secret → ServiceAccount → ResourceQuota', () => {
  it('reconciles the root when its deepest level changes', async () => {
    const root = await create('configmaps', 'root-a', 's1');
    const secret = await create('secrets', 'root-a-secret', 's1', root);
    const serviceAccount = await create('serviceaccounts', 'root-a-sa', 's1', secret);
    await create('resourcequotas', 'root-a-quota', 's1', serviceAccount);
    await eventually(() => {
      expect(reconciled).toContain('root-a');
    });
    reconciled.length = 0;
    await patchLabels('resourcequotas', 'root-a-quota', { touched: 'yes' });
    await eventually(() => {
      expect(reconciled).toContain('root-a');
    });
  });

  it("hands over every level on the root's drain, the deepest first, then the root", async () => {
    await patchLabels('configmaps', 'root-a', { [drainLabel(ring)]: 'true' });
    const handedOver = await eventually(async () => {
      const objects = await Promise.all([
        get('resourcequotas', 'root-a-quota'),
        get('serviceaccounts', 'root-a-sa'),
        get('secrets', 'root-a-secret'),
        get('configmaps', 'root-a'),
      ]);
      for (const { metadata } of objects) {
        expect(metadata.labels?.[shardLabel(ring)]).toBeUndefined();
        expect(metadata.labels?.[drainLabel(ring)]).toBeUndefined();
      }
      return objects;
    });
    // One etcd: resourceVersions of the handovers' writes are in the order they were written.
    const versions = handedOver.map(({ metadata }) => Number(metadata.resourceVersion));
    expect([...versions].sort((a, b) => a - b)).toEqual(versions);
  });

  it('hands over a drained object whose owner is here but whose owners above are on another shard', async () => {
    const root = await create('configmaps', 'root-b', 's2');
    const secret = await create('secrets', 'root-b-secret', 's2', root);
    const serviceAccount = await create('serviceaccounts', 'root-b-sa', 's1', secret);
    await create('resourcequotas', 'root-b-quota', 's1', serviceAccount);
    await patchLabels('resourcequotas', 'root-b-quota', { [drainLabel(ring)]: 'true' });
    await eventually(async () => {
      const { metadata } = await get('resourcequotas', 'root-b-quota');
      expect(metadata.labels?.[shardLabel(ring)]).toBeUndefined();
    });
    // Its owner was not drained: it stays.
    expect((await get('serviceaccounts', 'root-b-sa')).metadata.labels?.[shardLabel(ring)]).toBe('s1');
    expect(reconciled).not.toContain('root-b');
  });
});
