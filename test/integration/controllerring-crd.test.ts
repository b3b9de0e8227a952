// The ControllerRing CRD on a real API server: it is served with its printer columns, a valid ring round-trips
// with status, and the schema's OpenAPI and CEL rules reject bad rings with a message that says what to fix.
import { request } from 'node:https';
import { describe, expect, it } from '@jest/globals';
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import {
  group,
  kind,
  maxRingGroupResources,
  plural,
  version,
  type ControllerRing,
} from '../../api/v1alpha1/index.ts';
import { testKubeConfig } from '../support/kube.ts';

const kubeConfig = testKubeConfig();
const customObjects = kubeConfig.makeApiClient(CustomObjectsApi);
const ringApi = { group, version, plural };

function ring(name: string, spec: unknown): object {
  return { apiVersion: `${group}/${version}`, kind, metadata: { name }, spec };
}

const configMaps = { group: '', resource: 'configmaps' };
const secrets = { group: '', resource: 'secrets' };

/** A ring's resources naming `count` group/resources in all: each resource with up to 15 controlled ones. */
function manyResources(count: number): object[] {
  const resources: { group: string; resource: string; controlledResources: object[] }[] = [];
  for (let i = 0; i < count; i++) {
    const last = resources.at(-1);
    const item = { group: 'example.com', resource: `kind-${i}` };
    if (last === undefined || last.controlledResources.length === 15) {
      resources.push({ ...item, controlledResources: [] });
    } else last.controlledResources.push(item);
  }
  return resources;
}

/** Creates the ring in a dry run and returns the API server's rejection message. */
async function rejection(body: object): Promise<string> {
  try {
    await customObjects.createClusterCustomObject({ ...ringApi, body, dryRun: 'All' });
  } catch (error) {
    if (error instanceof ApiException && error.code === 422) {
      return (JSON.parse(error.body as string) as { message: string }).message;
    }
    throw error;
  }
  throw new Error(`the API server accepted ${JSON.stringify(body)}`);
}

async function getAsTable(
  path: string,
): Promise<{ columnDefinitions: { name: string }[]; rows: { cells: unknown[] }[] }> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no cluster');
  const options = { headers: { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' } };
  await kubeConfig.applyToHTTPSOptions(options);
  return new Promise((resolve, reject) => {
    request(`${cluster.server}${path}`, options, (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        if (response.statusCode === 200) resolve(JSON.parse(text) as never);
        else reject(new Error(`GET ${path}: ${String(response.statusCode)} ${text}`));
      });
    })
      .on('error', reject)
      .end();
  });
}

describe('ControllerRing CRD', () => {
  it('accepts a chain of 3 levels of controlled resources, each owner with its group defaulted', async () => {
    const name = 'chain-of-three';
    const chain = [
      { group: 'apps', resource: 'replicasets' },
      { resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
      { resource: 'configmaps', owner: { resource: 'pods' } },
    ];
    const created = (await customObjects.createClusterCustomObject({
      ...ringApi,
      body: ring(name, {
        resources: [{ group: 'apps', resource: 'deployments', controlledResources: chain }],
      }),
    })) as ControllerRing;
    try {
      expect(created.spec.resources[0]?.controlledResources).toEqual([
        { group: 'apps', resource: 'replicasets' },
        { group: '', resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
        { group: '', resource: 'configmaps', owner: { group: '', resource: 'pods' } },
      ]);
    } finally {
      await customObjects.deleteClusterCustomObject({ ...ringApi, name });
    }
  });

  it('round-trips a valid ring with status and shows it in the printer columns', async () => {
    const name = 'round-trip';
    const created = (await customObjects.createClusterCustomObject({
      ...ringApi,
      body: ring(name, {
        resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'secrets' }] }],
        namespaceSelector: { matchExpressions: [{ key: 'team', operator: 'In', values: ['a'] }] },
      }),
    })) as ControllerRing;
    try {
      // The core group is the default: every stored resource names its group.
      expect(created.spec.resources).toEqual([{ ...configMaps, controlledResources: [secrets] }]);
      // Shard Leases are trusted where a controller applied without a namespace runs.
      expect(created.spec.shardLeaseNamespaces).toEqual(['default']);
      // Assignment by the webhook unless the ring asks for the watch.
      expect(created.spec.assignment).toBe('Webhook');
      const status = {
        observedGeneration: created.metadata?.generation,
        shards: 3,
        availableShards: 2,
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'ShardsAvailable',
            message: '2 of 3 shards are available',
            lastTransitionTime: '2026-11-26T10:00:00Z',
            observedGeneration: created.metadata?.generation,
          },
        ],
      };
      await customObjects.replaceClusterCustomObjectStatus({
        ...ringApi,
        name,
        body: { ...created, status },
      });
      const read = (await customObjects.getClusterCustomObject({ ...ringApi, name })) as ControllerRing;
      expect(read.status).toEqual(status);

      const table = await getAsTable(`/apis/${group}/${version}/${plural}/${name}`);
      expect(table.columnDefinitions.map((column) => column.name)).toEqual([
        'Name',
        'Ready',
        'Available',
        'Shards',
        'Canary',
        'Age',
      ]);
      expect(table.rows[0]?.cells.slice(0, 4)).toEqual([name, 'True', 2, 3]);
      // No canary split: its column (kubectl get -o wide) is empty.
      expect(table.rows[0]?.cells[4]).toBeNull();
    } finally {
      await customObjects.deleteClusterCustomObject({ ...ringApi, name });
    }
  });

  it('keeps spec writes out of status and status writes out of spec', async () => {
    const name = 'status-subresource';
    await customObjects.createClusterCustomObject({
      ...ringApi,
      body: { ...ring(name, { resources: [configMaps] }), status: { shards: 5 } },
    });
    try {
      const read = (await customObjects.getClusterCustomObject({ ...ringApi, name })) as ControllerRing;
      expect(read.status).toBeUndefined();
    } finally {
      await customObjects.deleteClusterCustomObject({ ...ringApi, name });
    }
  });

  describe('rejects', () => {
    const cases: [string, string, unknown, string][] = [
      ['a ring without spec', 'no-spec', undefined, 'spec: Required value'],
      ['a ring without resources', 'no-resources', {}, 'spec.resources: Required value'],
      ['an empty resource list', 'empty-resources', { resources: [] }, 'should have at least 1 items'],
      [
        'an empty resource name',
        'empty-resource',
        { resources: [{ resource: '' }] },
        'resource must be the non-empty, lowercase plural name',
      ],
      [
        'a resource name that is not lowercase',
        'uppercase-resource',
        { resources: [{ resource: 'ConfigMaps' }] },
        'resource must be the non-empty, lowercase plural name',
      ],
      [
        'a controlled resource name that is not lowercase',
        'uppercase-controlled',
        { resources: [{ resource: 'configmaps', controlledResources: [{ resource: 'Secret' }] }] },
        'resource must be the non-empty, lowercase plural name',
      ],
      [
        'a group that is not a DNS subdomain',
        'bad-group',
        { resources: [{ group: 'Apps', resource: 'deployments' }] },
        'group must be empty (the core group) or a lowercase DNS subdomain',
      ],
      [
        'the same resource twice',
        'duplicate-resource',
        { resources: [configMaps, { resource: 'configmaps' }] },
        'each group/resource may appear only once in resources',
      ],
      [
        'a resource that is also a controlled resource',
        'resource-also-controlled',
        { resources: [{ ...configMaps, controlledResources: [secrets] }, secrets] },
        'a resource of the ring cannot also be one of its controlledResources',
      ],
      [
        'the same controlled resource under two resources',
        'controlled-twice',
        {
          resources: [
            { ...configMaps, controlledResources: [secrets] },
            { group: 'apps', resource: 'deployments', controlledResources: [secrets] },
          ],
        },
        'each controlled group/resource may appear only once in the ring',
      ],
      [
        'the same controlled resource twice under one resource',
        'controlled-twice-in-one',
        { resources: [{ ...configMaps, controlledResources: [secrets, secrets] }] },
        'each controlled group/resource may appear only once in the ring',
      ],
      [
        'an owner that is not one of the controlled resources',
        'owner-unlisted',
        { resources: [{ ...configMaps, controlledResources: [{ resource: 'pods', owner: secrets }] }] },
        "owner must name another of the same resource's controlledResources",
      ],
      [
        'a chain of owners that loops',
        'owner-loop',
        {
          resources: [
            {
              ...configMaps,
              controlledResources: [
                { resource: 'secrets', owner: { resource: 'pods' } },
                { resource: 'pods', owner: secrets },
              ],
            },
          ],
        },
        'a chain of owners must reach the ring resource within 3 levels and must not loop',
      ],
      [
        'a controlled resource that owns itself',
        'owner-self',
        { resources: [{ ...configMaps, controlledResources: [{ ...secrets, owner: secrets }] }] },
        'a chain of owners must reach the ring resource within 3 levels and must not loop',
      ],
      [
        'a chain of 4 levels',
        'owner-too-deep',
        {
          resources: [
            {
              ...configMaps,
              controlledResources: [
                secrets,
                { resource: 'serviceaccounts', owner: secrets },
                { resource: 'pods', owner: { resource: 'serviceaccounts' } },
                { resource: 'services', owner: { resource: 'pods' } },
              ],
            },
          ],
        },
        'a chain of owners must reach the ring resource within 3 levels and must not loop',
      ],
      [
        'a ring name that is not a DNS-1123 label',
        'my.ring',
        { resources: [configMaps] },
        'the ring name is used in label keys and must be a DNS-1123 label',
      ],
      [
        'a ring name longer than 63 characters',
        'r'.repeat(64),
        { resources: [configMaps] },
        'the ring name is used in label keys and must be at most 63 characters long',
      ],
      [
        'a namespaceSelector with an unknown operator',
        'unknown-operator',
        {
          resources: [configMaps],
          namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Contains' }] },
        },
        'supported values: "In", "NotIn", "Exists", "DoesNotExist"',
      ],
      [
        'a namespaceSelector with In and no values',
        'in-without-values',
        { resources: [configMaps], namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'In' }] } },
        'values must list at least one value for operator In or NotIn',
      ],
      [
        'a namespaceSelector with NotIn and empty values',
        'notin-empty-values',
        {
          resources: [configMaps],
          namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'NotIn', values: [] }] },
        },
        'values must list at least one value for operator In or NotIn',
      ],
      [
        'a namespaceSelector with Exists and values',
        'exists-with-values',
        {
          resources: [configMaps],
          namespaceSelector: { matchExpressions: [{ key: 'a', operator: 'Exists', values: ['x'] }] },
        },
        'must be empty for operator Exists or DoesNotExist',
      ],
      [
        'an empty shardLeaseNamespaces, which would trust no shard',
        'no-shard-namespaces',
        { resources: [configMaps], shardLeaseNamespaces: [] },
        'spec.shardLeaseNamespaces: Invalid value: 0: spec.shardLeaseNamespaces in body should have at least 1 items',
      ],
      [
        'more than 16 shardLeaseNamespaces',
        'many-shard-namespaces',
        { resources: [configMaps], shardLeaseNamespaces: Array.from({ length: 17 }, (_, i) => `ns-${i}`) },
        'must have at most 16 items',
      ],
      [
        'a namespace twice in shardLeaseNamespaces',
        'duplicate-shard-namespace',
        { resources: [configMaps], shardLeaseNamespaces: ['shards', 'other', 'shards'] },
        'each namespace may appear only once in shardLeaseNamespaces: remove the duplicate entries',
      ],
      [
        'a shardLeaseNamespaces entry that is not a namespace name',
        'bad-shard-namespace',
        { resources: [configMaps], shardLeaseNamespaces: ['Shards'] },
        'shardLeaseNamespaces must list namespace names: DNS-1123 labels',
      ],
      [
        'a shardLeaseNamespaces entry longer than 63 characters',
        'long-shard-namespace',
        { resources: [configMaps], shardLeaseNamespaces: ['n'.repeat(64)] },
        'may not be more than 63 bytes',
      ],
      [
        'kube-system among shardLeaseNamespaces',
        'kube-system-shards',
        { resources: [configMaps], shardLeaseNamespaces: ['shards', 'kube-system'] },
        "kube-system and kube-node-lease hold the cluster's own Leases",
      ],
      [
        'kube-node-lease among shardLeaseNamespaces',
        'node-lease-shards',
        { resources: [configMaps], shardLeaseNamespaces: ['kube-node-lease'] },
        "kube-system and kube-node-lease hold the cluster's own Leases",
      ],
      [
        'an assignment that is neither Webhook nor Watch',
        'unknown-assignment',
        { resources: [configMaps], assignment: 'Poll' },
        'spec.assignment: Unsupported value: "Poll": supported values: "Webhook", "Watch"',
      ],
      [
        `more than ${maxRingGroupResources} group/resources in all`,
        'too-many-resources',
        { resources: manyResources(maxRingGroupResources + 1) },
        `a ring names at most ${maxRingGroupResources} group/resources in all`,
      ],
    ];

    const canary = (value: object): object => ({ resources: [configMaps], canary: value });
    const version = { matchLabels: { 'app.kubernetes.io/version': 'v2' } };
    cases.push(
      [
        'a canary without shardSelector',
        'canary-no-selector',
        canary({ percent: 10 }),
        'spec.canary.shardSelector: Required value',
      ],
      [
        'a canary with an empty shardSelector, which would make every shard a canary',
        'canary-empty-selector',
        canary({ shardSelector: {}, percent: 10 }),
        'canary.shardSelector must not be empty (an empty selector would make every shard a canary shard)',
      ],
      [
        'a canary selecting on a controller-rings.io/ label',
        'canary-protocol-label',
        canary({ shardSelector: { matchLabels: { 'controller-rings.io/state': 'ready' } } }),
        'canary.shardSelector must not select on controller-rings.io/ labels',
      ],
      [
        'a canary expression on a controller-rings.io/ label',
        'canary-protocol-expression',
        canary({
          shardSelector: { matchExpressions: [{ key: 'controller-rings.io/ring', operator: 'Exists' }] },
        }),
        'canary.shardSelector must not select on controller-rings.io/ labels',
      ],
      [
        'a canary expression with In and no values',
        'canary-in-without-values',
        canary({ shardSelector: { matchExpressions: [{ key: 'version', operator: 'In' }] } }),
        'values must list at least one value for operator In or NotIn',
      ],
      [
        'a canary percent above 100',
        'canary-101',
        canary({ shardSelector: version, percent: 101 }),
        "canary.percent is the share of the ring's objects that go to the canary shards: a whole number from 0 to 100",
      ],
      [
        'a negative canary percent',
        'canary-negative',
        canary({ shardSelector: version, percent: -1 }),
        'a whole number from 0 to 100',
      ],
    );

    it.each(cases)('%s', async (_, name, spec, message) => {
      expect(await rejection(ring(name, spec))).toContain(message);
    });
  });

  it('defaults the canary percent to 0, and shows the percent in the wide printer columns', async () => {
    const name = 'canary-default';
    const created = (await customObjects.createClusterCustomObject({
      ...ringApi,
      body: ring(name, {
        resources: [configMaps],
        canary: { shardSelector: { matchLabels: { 'app.kubernetes.io/version': 'v2' } } },
      }),
    })) as ControllerRing;
    try {
      expect(created.spec.canary?.percent).toBe(0);
      const canary = { ...created.spec.canary, percent: 25 };
      await customObjects.replaceClusterCustomObject({
        ...ringApi,
        name,
        body: { ...created, spec: { ...created.spec, canary } },
      });
      const table = await getAsTable(`/apis/${group}/${version}/${plural}/${name}`);
      const column = table.columnDefinitions.findIndex((definition) => definition.name === 'Canary');
      expect(table.rows[0]?.cells[column]).toBe(25);
    } finally {
      await customObjects.deleteClusterCustomObject({ ...ringApi, name });
    }
  });

  it(`accepts a ring of ${maxRingGroupResources} group/resources in all`, async () => {
    const valid = ring('largest-ring', { resources: manyResources(maxRingGroupResources) });
    await expect(
      customObjects.createClusterCustomObject({ ...ringApi, body: valid, dryRun: 'All' }),
    ).resolves.toBeDefined();
  });

  it('accepts a ring that uses every field (the rules do not reject too much)', async () => {
    const valid = ring('valid-ring-0', {
      resources: [
        { ...configMaps, controlledResources: [secrets] },
        {
          group: 'apps',
          resource: 'deployments',
          controlledResources: [{ group: 'apps', resource: 'replicasets' }],
        },
      ],
      namespaceSelector: {
        matchLabels: { team: 'a' },
        matchExpressions: [
          { key: 'env', operator: 'NotIn', values: ['prod'] },
          { key: 'sharded', operator: 'Exists' },
        ],
      },
      shardLeaseNamespaces: ['shards', 'n'.repeat(63), ...Array.from({ length: 14 }, (_, i) => `ns-${i}`)],
      assignment: 'Watch',
      canary: {
        shardSelector: {
          matchLabels: { 'app.kubernetes.io/version': 'v2' },
          matchExpressions: [{ key: 'track', operator: 'In', values: ['canary'] }],
        },
        percent: 100,
      },
    });
    await expect(
      customObjects.createClusterCustomObject({ ...ringApi, body: valid, dryRun: 'All' }),
    ).resolves.toBeDefined();
  });
});
