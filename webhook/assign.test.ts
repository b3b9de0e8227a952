import { describe, expect, it } from '@jest/globals';
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import { pino } from 'pino';
import type { ControllerRing } from '../api/v1alpha1/index.ts';
import type { RingLease } from '../sharding/membership.ts';
import { canaryBucket, SplitHashRing } from '../sharding/canary.ts';
import { HashRing } from '../sharding/ring.ts';
import type { AdmissionRequest, AdmissionResponse, AdmissionReview } from './admission.ts';
import { Assigner, type AssignerOptions, type RingDirectory, type WebhookReply } from './assign.ts';

const ringName = 'web';
const label = 'shard.controller-rings.io/web';
const shards = ['a', 'b', 'c'];
const hashRing = new HashRing(shards);
const now = new Date('2026-11-26T10:00:00Z');

const ring: ControllerRing = {
  metadata: { name: ringName },
  spec: {
    resources: [
      { group: '', resource: 'configmaps', controlledResources: [{ group: '', resource: 'secrets' }] },
      {
        group: 'apps',
        resource: 'deployments',
        controlledResources: [{ group: 'apps', resource: 'replicasets' }],
      },
    ],
    shardLeaseNamespaces: ['shards'],
  },
};

/** A shard Lease of `ring`, renewed now. */
function shardLease(name: string, namespace = 'shards', leaseRing = ringName): RingLease {
  return {
    metadata: { name, namespace, labels: { 'controller-rings.io/ring': leaseRing } },
    spec: { holderIdentity: name, renewTime: now.toISOString(), leaseDurationSeconds: 10 },
  };
}

/** The ring, its live shards `available` (in the order the cache lists them), and other Leases. */
function directory(
  available: () => readonly string[] = () => shards,
  others: readonly RingLease[] = [],
): RingDirectory {
  return {
    ring: (name) => (name === ringName ? ring : undefined),
    leases: () => [...available().map((name) => shardLease(name)), ...others],
  };
}

function assigner(ringDirectory = directory()): { assigner: Assigner; logs: Record<string, unknown>[] } {
  const logs: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'debug' },
    { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { assigner: new Assigner({ directory: ringDirectory, logger, now: () => now }), logs };
}

type Kind = AdmissionRequest['kind'];
type Resource = AdmissionRequest['resource'];

const configMap = { group: '', version: 'v1', kind: 'ConfigMap' };
const configMaps = { group: '', version: 'v1', resource: 'configmaps' };
const secret = { group: '', version: 'v1', kind: 'Secret' };
const secrets = { group: '', version: 'v1', resource: 'secrets' };
const deployment = { group: 'apps', version: 'v1', kind: 'Deployment' };
const deployments = { group: 'apps', version: 'v1', resource: 'deployments' };
const replicaSet = { group: 'apps', version: 'v1', kind: 'ReplicaSet' };
const replicaSets = { group: 'apps', version: 'v1', resource: 'replicasets' };

function request(
  kind: Kind,
  resource: Resource,
  metadata: IObjectMeta,
  overrides: Partial<AdmissionRequest> = {},
): AdmissionRequest {
  return {
    uid: 'uid-1',
    kind,
    resource,
    namespace: metadata.namespace ?? 'shop',
    operation: 'CREATE',
    object: { metadata },
    ...overrides,
  };
}

function controller(
  apiVersion: string,
  kind: string,
  name: string,
): NonNullable<IObjectMeta['ownerReferences']> {
  return [{ apiVersion, kind, name, uid: `uid-${name}`, controller: true }];
}

/** Calls the webhook the way the server does, with the request's JSON body. */
function call(target: Assigner, admissionRequest: unknown, name = ringName): Promise<WebhookReply> {
  const body = { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: admissionRequest };
  return target.handle(name, Buffer.from(JSON.stringify(body)));
}

function responseOf(reply: WebhookReply): AdmissionResponse {
  expect(reply.statusCode).toBe(200);
  const body = reply.body as AdmissionReview;
  expect(body).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' });
  if (body.response === undefined) throw new Error('the review has no response');
  return body.response;
}

function patchOf(response: AdmissionResponse): unknown {
  expect(response).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
  return JSON.parse(Buffer.from(response.patch ?? '', 'base64').toString('utf8'));
}

/** Asserts an unchanged admission and returns its warnings. */
function unchanged(reply: WebhookReply): string[] {
  const response = responseOf(reply);
  expect(response.allowed).toBe(true);
  expect(response.patch).toBeUndefined();
  expect(response.patchType).toBeUndefined();
  expect(reply.result).toBe('unassigned');
  return response.warnings ?? [];
}

describe('Assigner assigns unlabelled objects of a ring', () => {
  it.each<[string, string, Kind, Resource, IObjectMeta]>([
    ['a core ring resource', '/ConfigMap/shop/settings', configMap, configMaps, {}],
    ['a ring resource of a group', 'apps/Deployment/shop/settings', deployment, deployments, {}],
    [
      'a controlled core resource, by its controller',
      '/ConfigMap/shop/settings',
      secret,
      secrets,
      { name: 'token', ownerReferences: controller('v1', 'ConfigMap', 'settings') },
    ],
    [
      'a controlled resource of a group, by its controller',
      'apps/Deployment/shop/settings',
      replicaSet,
      replicaSets,
      { name: 'settings-5d8f', ownerReferences: controller('apps/v1', 'Deployment', 'settings') },
    ],
  ])('%s: to the shard of key %s', async (_, key, kind, resource, metadata) => {
    const { assigner: webhook } = assigner();
    const reply = await call(
      webhook,
      request(kind, resource, { name: 'settings', namespace: 'shop', ...metadata }),
    );
    const response = responseOf(reply);
    expect(response.uid).toBe('uid-1');
    expect(response.warnings).toBeUndefined();
    expect(reply.result).toBe('assigned');
    expect(patchOf(response)).toEqual([
      { op: 'add', path: '/metadata/labels', value: { [label]: hashRing.shardFor(key) } },
    ]);
  });

  it('adds the label beside existing labels, its key escaped as a JSON Pointer', async () => {
    const { assigner: webhook } = assigner();
    const metadata = { name: 'settings', namespace: 'shop', labels: { app: 'shop' } };
    expect(patchOf(responseOf(await call(webhook, request(configMap, configMaps, metadata))))).toEqual([
      {
        op: 'add',
        path: '/metadata/labels/shard.controller-rings.io~1web',
        value: hashRing.shardFor('/ConfigMap/shop/settings'),
      },
    ]);
  });

  it('removes a drain label left by a drain acknowledgement (UPDATE)', async () => {
    const { assigner: webhook } = assigner();
    const metadata = {
      name: 'settings',
      namespace: 'shop',
      labels: { 'drain.controller-rings.io/web': 'true' },
    };
    const reply = await call(webhook, request(configMap, configMaps, metadata, { operation: 'UPDATE' }));
    expect(patchOf(responseOf(reply))).toEqual([
      { op: 'add', path: `/metadata/labels/shard.controller-rings.io~1web`, value: expect.any(String) },
      { op: 'remove', path: '/metadata/labels/drain.controller-rings.io~1web' },
    ]);
  });

  describe('an UPDATE that removed the shard label', () => {
    const key = '/ConfigMap/shop/settings';
    // A live shard that is not the hash ring's choice, so keeping it differs from assigning anew.
    const other = shards.find((shard) => shard !== hashRing.shardFor(key)) ?? '';
    const metadata = { name: 'settings', namespace: 'shop' };
    const update = async (oldLabels: Record<string, string>, available = shards): Promise<unknown> => {
      const { assigner: webhook } = assigner(directory(() => available));
      const oldObject = { metadata: { ...metadata, labels: oldLabels } };
      return patchOf(
        responseOf(
          await call(webhook, request(configMap, configMaps, metadata, { operation: 'UPDATE', oldObject })),
        ),
      );
    };

    it('keeps the object on its live shard when no drain was asked for (kubectl replace, a label edit)', async () => {
      expect(await update({ [label]: other })).toEqual([
        { op: 'add', path: '/metadata/labels', value: { [label]: other } },
      ]);
    });

    it('assigns anew when the old shard is gone', async () => {
      const remaining = shards.filter((shard) => shard !== other);
      expect(await update({ [label]: other }, remaining)).toEqual([
        { op: 'add', path: '/metadata/labels', value: { [label]: new HashRing(remaining).shardFor(key) } },
      ]);
    });

    it('assigns anew after a drain acknowledgement (the old object carried the drain label)', async () => {
      expect(await update({ [label]: other, 'drain.controller-rings.io/web': 'true' })).toEqual([
        { op: 'add', path: '/metadata/labels', value: { [label]: hashRing.shardFor(key) } },
      ]);
    });
  });

  it("takes the namespace from the request when the object's metadata has none", async () => {
    const { assigner: webhook } = assigner();
    const reply = await call(
      webhook,
      request(configMap, configMaps, { name: 'settings' }, { namespace: 'other' }),
    );
    expect(patchOf(responseOf(reply))).toEqual([
      {
        op: 'add',
        path: '/metadata/labels',
        value: { [label]: hashRing.shardFor('/ConfigMap/other/settings') },
      },
    ]);
  });

  it('gives the same object the same shard on every call and in every replica', async () => {
    const objects = Array.from({ length: 50 }, (_, i) => ({ name: `object-${i}`, namespace: 'shop' }));
    const shardsOf = (webhook: Assigner): Promise<unknown[]> =>
      Promise.all(
        objects.map(async (metadata) =>
          patchOf(responseOf(await call(webhook, request(configMap, configMaps, metadata)))),
        ),
      );
    const first = assigner().assigner;
    const answers = await shardsOf(first);
    expect(await shardsOf(first)).toEqual(answers);
    expect(await shardsOf(assigner().assigner)).toEqual(answers);
    expect(answers).toEqual(
      objects.map(({ name }) => [
        {
          op: 'add',
          path: '/metadata/labels',
          value: { [label]: hashRing.shardFor(`/ConfigMap/shop/${name}`) },
        },
      ]),
    );
    // The objects spread over all shards.
    expect(new Set(answers.map((patch) => JSON.stringify(patch)))).toHaveProperty('size', shards.length);
  });

  it('follows membership changes, whatever order the shards are listed in', async () => {
    let available: readonly string[] = ['c', 'a', 'b'];
    const { assigner: webhook } = assigner(directory(() => available));
    const shardOf = async (name: string): Promise<unknown> => {
      const reply = await call(webhook, request(configMap, configMaps, { name, namespace: 'shop' }));
      return (patchOf(responseOf(reply)) as [{ value: Record<string, string> }])[0].value[label];
    };
    const names = Array.from({ length: 30 }, (_, i) => `object-${i}`);
    expect(await Promise.all(names.map(shardOf))).toEqual(
      names.map((name) => hashRing.shardFor(`/ConfigMap/shop/${name}`)),
    );
    available = ['b'];
    expect(new Set(await Promise.all(names.map(shardOf)))).toEqual(new Set(['b']));
    available = ['b', 'a', 'c'];
    expect(await Promise.all(names.map(shardOf))).toEqual(
      names.map((name) => hashRing.shardFor(`/ConfigMap/shop/${name}`)),
    );
  });

  it('logs the assignment at debug with the ring, the object and the shard', async () => {
    const { assigner: webhook, logs } = assigner();
    await call(webhook, request(configMap, configMaps, { name: 'settings', namespace: 'shop' }));
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 20,
        msg: 'assigned',
        ring: ringName,
        resource: 'configmaps',
        object: 'shop/settings',
        key: '/ConfigMap/shop/settings',
        shard: hashRing.shardFor('/ConfigMap/shop/settings'),
      }),
    );
  });
});

describe("Assigner assigns only to the ring's members", () => {
  const objects = Array.from({ length: 50 }, (_, i) => `object-${i}`);
  const shardsOf = (ringDirectory: RingDirectory): Promise<unknown[]> => {
    const { assigner: webhook } = assigner(ringDirectory);
    return Promise.all(
      objects.map(async (name) => {
        const reply = await call(webhook, request(configMap, configMaps, { name, namespace: 'shop' }));
        return (patchOf(responseOf(reply)) as [{ value: Record<string, string> }])[0].value[label];
      }),
    );
  };
  const byHashRing = objects.map((name) => hashRing.shardFor(`/ConfigMap/shop/${name}`));

  it('never to a Lease whose name is not a valid label value: the API server would reject the object', async () => {
    // Before, such a name won its share of the objects, and every create of them failed.
    const long = shardLease('l'.repeat(64));
    expect(await shardsOf(directory(() => shards, [long]))).toEqual(byHashRing);
  });

  it('never to a Lease in a namespace the ring does not trust, whatever its name', async () => {
    const intruders = [shardLease('intruder', 'elsewhere'), shardLease('a', 'elsewhere')];
    expect(await shardsOf(directory(() => shards, intruders))).toEqual(byHashRing);
  });

  it('to neither of two Leases of one name in trusted namespaces', async () => {
    const trusting: ControllerRing = {
      ...ring,
      spec: { ...ring.spec, shardLeaseNamespaces: ['shards', 'more'] },
    };
    const ringDirectory = directory(() => [...shards, 'd'], [shardLease('d', 'more')]);
    const ringOf = (name: string): ControllerRing | undefined => (name === ringName ? trusting : undefined);
    expect(await shardsOf({ ...ringDirectory, ring: ringOf })).toEqual(byHashRing);
  });
});

describe('Assigner splits a ring with canary shards like the sync', () => {
  const objects = Array.from({ length: 200 }, (_, i) => `object-${i}`);
  const canaryRing = (percent: number): ControllerRing => ({
    ...ring,
    spec: { ...ring.spec, canary: { shardSelector: { matchLabels: { version: 'v2' } }, percent } },
  });
  const canaryLease = (name: string): RingLease => {
    const plain = shardLease(name);
    return {
      ...plain,
      metadata: { ...plain.metadata, labels: { ...plain.metadata?.labels, version: 'v2' } },
    };
  };
  const shardsOf = (percent: number, leases: RingLease[]): Promise<unknown[]> => {
    const { assigner: webhook } = assigner({
      ring: (name) => (name === ringName ? canaryRing(percent) : undefined),
      leases: () => leases,
    });
    return Promise.all(
      objects.map(async (name) => {
        const reply = await call(webhook, request(configMap, configMaps, { name, namespace: 'shop' }));
        return (patchOf(responseOf(reply)) as [{ value: Record<string, string> }])[0].value[label];
      }),
    );
  };

  it.each([10, 50])(
    'at %d %%: the canary side to the canary shard, the rest by the stable shards',
    async (percent) => {
      const split = new SplitHashRing({ percent, canary: ['c'], stable: ['a', 'b'] });
      const assigned = await shardsOf(percent, [shardLease('a'), shardLease('b'), canaryLease('c')]);
      expect(assigned).toEqual(objects.map((name) => split.shardFor(`/ConfigMap/shop/${name}`)));
      const onCanary = objects.filter((name) => canaryBucket(`/ConfigMap/shop/${name}`) < percent);
      expect(assigned.filter((shard) => shard === 'c')).toHaveLength(onCanary.length);
    },
  );

  it('with no canary shard available, to the stable shards; with no stable shard, to the canary shards', async () => {
    const released = { ...canaryLease('c'), spec: { holderIdentity: '' } };
    expect(await shardsOf(50, [shardLease('a'), shardLease('b'), released])).toEqual(
      objects.map((name) => new HashRing(['a', 'b']).shardFor(`/ConfigMap/shop/${name}`)),
    );
    expect(new Set(await shardsOf(50, [canaryLease('c')]))).toEqual(new Set(['c']));
  });
});

describe('Assigner admits objects unchanged', () => {
  it('when no shard is available', async () => {
    const { assigner: webhook } = assigner(directory(() => []));
    expect(unchanged(await call(webhook, request(configMap, configMaps, { name: 'settings' })))).toEqual([]);
  });

  it('when the object already has a shard label (a race with the objectSelector)', async () => {
    const { assigner: webhook } = assigner();
    const metadata = { name: 'settings', labels: { [label]: 'z' } };
    expect(unchanged(await call(webhook, request(configMap, configMaps, metadata)))).toEqual([]);
  });

  it('with a warning when it has a generateName but no name yet', async () => {
    const { assigner: webhook } = assigner();
    const warnings = unchanged(
      await call(webhook, request(configMap, configMaps, { generateName: 'settings-' })),
    );
    expect(warnings).toEqual([expect.stringContaining('ControllerRing "web"')]);
    expect(warnings[0]).toContain('generateName "settings-"');
    expect(warnings[0]).toContain('the sharder assigns it on its next sync');
  });

  it('when a controlled object has no controller reference', async () => {
    const { assigner: webhook } = assigner();
    const ownerReferences = [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'settings', uid: 'uid-settings' }];
    const reply = await call(webhook, request(secret, secrets, { name: 'token', ownerReferences }));
    expect(unchanged(reply)).toEqual([]);
  });

  it('with a warning when the ring is unknown', async () => {
    const { assigner: webhook } = assigner();
    const reply = await call(webhook, request(configMap, configMaps, { name: 'settings' }), 'gone');
    expect(unchanged(reply)).toEqual([expect.stringContaining('ControllerRing "gone" does not exist')]);
  });

  it('with a warning when the resource is not one of the ring', async () => {
    const { assigner: webhook } = assigner();
    const jobs = { group: 'batch', version: 'v1', resource: 'jobs' };
    const reply = await call(
      webhook,
      request({ group: 'batch', version: 'v1', kind: 'Job' }, jobs, { name: 'j' }),
    );
    expect(unchanged(reply)).toEqual([
      'jobs.batch is not a resource of ControllerRing "web", so the object is not assigned to a shard at admission',
    ]);
  });

  it.each([
    ['DELETE', { operation: 'DELETE', object: undefined }],
    ['CONNECT', { operation: 'CONNECT', object: undefined }],
    ['a CREATE without object', { object: undefined }],
    ['a write to a subresource', { subResource: 'status' }],
  ] as const)('for %s', async (_, overrides: Partial<AdmissionRequest>) => {
    const { assigner: webhook } = assigner();
    const reply = await call(webhook, request(configMap, configMaps, { name: 'settings' }, overrides));
    expect(unchanged(reply)).toEqual([]);
  });

  it('with a warning and an error log when something unexpected fails', async () => {
    const failing: RingDirectory = {
      ring: () => ring,
      leases: () => {
        throw new Error('cache not synced');
      },
    };
    const { assigner: webhook, logs } = assigner(failing);
    const reply = await call(
      webhook,
      request(configMap, configMaps, { name: 'settings', namespace: 'shop' }),
    );
    const response = responseOf(reply);
    expect(reply.result).toBe('error');
    expect(response).toEqual({
      uid: 'uid-1',
      allowed: true,
      warnings: [expect.stringContaining('cache not synced')],
    });
    expect(logs).toContainEqual(
      expect.objectContaining({
        level: 50,
        ring: ringName,
        object: 'shop/settings',
        msg: 'admission failed',
      }),
    );
  });
});

describe('Assigner reads only what it needs of a review', () => {
  /** A review as the API server writes it, with `spec` spliced into the object as raw JSON. */
  function reviewWithSpec(admissionRequest: AdmissionRequest, spec: string): Buffer {
    const body = JSON.stringify({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      request: admissionRequest,
    });
    const marker = '"spec":null';
    return Buffer.from(body.replace(marker, `"spec":${spec}`));
  }

  it('reads the objects around a spec of arrays nested 100,000 deep as it does without them', async () => {
    const depth = 100_000;
    const key = '/ConfigMap/shop/settings';
    // A live shard that is not the hash ring's choice: the UPDATE removed its label, so the object stays.
    const kept = shards.find((shard) => shard !== hashRing.shardFor(key)) ?? '';
    const metadata = { name: 'settings', namespace: 'shop', labels: { app: 'shop' } };
    const object = { metadata, spec: null };
    const admissionRequest = request(configMap, configMaps, metadata, {
      operation: 'UPDATE',
      object,
      oldObject: { metadata: { ...metadata, labels: { app: 'shop', [label]: kept } } },
    });
    const { assigner: webhook } = assigner();
    const nested = '['.repeat(depth) + ']'.repeat(depth);
    const reply = await webhook.handle(ringName, reviewWithSpec(admissionRequest, nested));
    expect(reply.result).toBe('assigned');
    expect(patchOf(responseOf(reply))).toEqual([
      { op: 'add', path: '/metadata/labels/shard.controller-rings.io~1web', value: kept },
    ]);
    // One bracket short, the same review is no JSON.
    const truncated = reviewWithSpec(admissionRequest, '['.repeat(depth) + ']'.repeat(depth - 1));
    expect(await webhook.handle(ringName, truncated)).toMatchObject({
      statusCode: 400,
      body: { code: 400, message: expect.stringContaining('the request body is not JSON') },
    });
  });
});

describe('Assigner answers malformed requests with HTTP 400', () => {
  function status(reply: WebhookReply): unknown {
    expect(reply).toMatchObject({ statusCode: 400, result: 'invalid' });
    return reply.body;
  }

  it.each([
    ['invalid JSON', '{"apiVersion":', 'the request body is not JSON'],
    ['a JSON array', '[]', 'the request body is not an AdmissionReview admission.k8s.io/v1'],
    [
      'a v1beta1 review',
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1beta1',
        kind: 'AdmissionReview',
        request: { uid: 'u' },
      }),
      'the request body is not an AdmissionReview admission.k8s.io/v1',
    ],
    [
      'a review without request',
      JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview' }),
      'the AdmissionReview has no request.uid',
    ],
    [
      'a request without uid',
      JSON.stringify({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: { operation: 'CREATE' },
      }),
      'the AdmissionReview has no request.uid',
    ],
  ])('%s: a Status saying so', async (_, body, message) => {
    const { assigner: webhook } = assigner();
    expect(status(await webhook.handle(ringName, Buffer.from(body)))).toEqual({
      apiVersion: 'v1',
      kind: 'Status',
      status: 'Failure',
      code: 400,
      reason: 'BadRequest',
      message: expect.stringContaining(message),
    });
  });

  it.each([
    ['no resource', { resource: undefined }, 'has no valid resource'],
    ['no kind', { kind: { group: '', kind: 'ConfigMap' } }, 'has no valid kind'],
    ['an unknown operation', { operation: 'PATCH' }, 'has no valid operation'],
    [
      'labels that are no object',
      { object: { metadata: { labels: 'a=b' } } },
      'has an object whose labels are not a JSON object of strings',
    ],
    [
      'labels that are no strings',
      { object: { metadata: { labels: { a: { b: 'c' } } } } },
      'has an object whose labels are not a JSON object of strings',
    ],
    [
      'ownerReferences that are no array of objects',
      { object: { metadata: { ownerReferences: [['ConfigMap']] } } },
      'has an object whose ownerReferences are not a JSON array of objects',
    ],
    ['an object that is an array', { object: [{ metadata: {} }] }, 'has an object that is not a JSON object'],
    [
      'an oldObject whose metadata is no object',
      { operation: 'UPDATE', oldObject: { metadata: 'settings' } },
      'has an oldObject whose metadata is not a JSON object',
    ],
  ])(
    'a request with %s: a review with its uid, allowed false and status 400',
    async (_, overrides, message) => {
      const { assigner: webhook } = assigner();
      const reply = await call(webhook, {
        ...request(configMap, configMaps, { name: 'settings' }),
        ...overrides,
      });
      expect(reply).toMatchObject({ statusCode: 400, result: 'invalid' });
      expect(reply.body).toEqual({
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        response: {
          uid: 'uid-1',
          allowed: false,
          status: expect.objectContaining({ code: 400, message: expect.stringContaining(message) }),
        },
      });
    },
  );
});

describe('Assigner assigns every level of a chain of controllers to the shard of its root', () => {
  const pods = { group: '', version: 'v1', resource: 'pods' };
  const pod = { group: '', version: 'v1', kind: 'Pod' };
  const chainRing: ControllerRing = {
    metadata: { name: ringName },
    spec: {
      resources: [
        {
          group: 'apps',
          resource: 'deployments',
          controlledResources: [
            { group: 'apps', resource: 'replicasets' },
            { group: '', resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
          ],
        },
      ],
      shardLeaseNamespaces: ['shards'],
    },
  };
  const rootKey = 'apps/Deployment/shop/web';
  const podMetadata = {
    name: 'web-1-a',
    namespace: 'shop',
    ownerReferences: controller('apps/v1', 'ReplicaSet', 'web-1'),
  };

  function chainAssigner(readOwner: AssignerOptions['readOwner'], chainBudgetMs?: number): Assigner {
    const logger = pino({ level: 'silent' });
    const ringDirectory: RingDirectory = {
      ring: (name) => (name === ringName ? chainRing : undefined),
      leases: () => shards.map((name) => shardLease(name)),
    };
    return new Assigner({
      directory: ringDirectory,
      logger,
      now: () => now,
      ...(readOwner === undefined ? {} : { readOwner }),
      ...(chainBudgetMs === undefined ? {} : { chainBudgetMs }),
    });
  }

  it('a Pod of a ReplicaSet of a Deployment: one read of the ReplicaSet, by name and uid', async () => {
    const reads: string[] = [];
    const webhook = chainAssigner(() => (owner, namespace, name) => {
      reads.push(`${owner.resource}/${namespace ?? ''}/${name}`);
      return Promise.resolve({
        uid: 'uid-web-1',
        ownerReferences: controller('apps/v1', 'Deployment', 'web'),
      });
    });
    const reply = await call(webhook, request(pod, pods, podMetadata));
    expect(patchOf(responseOf(reply))).toEqual([
      { op: 'add', path: '/metadata/labels', value: { [label]: hashRing.shardFor(rootKey) } },
    ]);
    expect(reads).toEqual(['replicasets/shop/web-1']);
    // The first level needs no read: its controller reference names the root.
    const replicaSetMetadata = {
      name: 'web-1',
      namespace: 'shop',
      ownerReferences: controller('apps/v1', 'Deployment', 'web'),
    };
    const first = await call(webhook, request(replicaSet, replicaSets, replicaSetMetadata));
    expect(patchOf(responseOf(first))).toEqual([
      { op: 'add', path: '/metadata/labels', value: { [label]: hashRing.shardFor(rootKey) } },
    ]);
    expect(reads).toHaveLength(1);
  });

  it.each([
    ['its owner is gone', () => Promise.resolve(undefined), 'does not exist as replicasets.apps'],
    [
      'its owner was created anew under its name',
      () =>
        Promise.resolve({ uid: 'uid-other', ownerReferences: controller('apps/v1', 'Deployment', 'web') }),
      'does not exist as replicasets.apps',
    ],
    ['reading its owner fails', () => Promise.reject(new Error('connection refused')), 'connection refused'],
  ])('admits it unchanged, with a warning, when %s', async (_, read, warning) => {
    const webhook = chainAssigner(() => read);
    const { response } = await webhook.admit(ringName, request(pod, pods, podMetadata));
    expect(response.patch).toBeUndefined();
    expect(response.warnings).toEqual([expect.stringContaining(warning)]);
  });

  it('admits it unchanged when its owner takes longer than the budget, which bounds the call', async () => {
    const webhook = chainAssigner(
      (signal) => () =>
        new Promise((_, reject) => {
          signal.addEventListener(
            'abort',
            () => {
              reject(signal.reason as Error);
            },
            { once: true },
          );
        }),
      20,
    );
    const { response } = await webhook.admit(ringName, request(pod, pods, podMetadata));
    expect(response.patch).toBeUndefined();
    expect(response.warnings).toEqual([expect.stringContaining("assigned on the sharder's next sync")]);
  });

  it('admits it unchanged, with a warning, when the webhook reads no chains', async () => {
    const { response } = await chainAssigner(undefined).admit(ringName, request(pod, pods, podMetadata));
    expect(response.patch).toBeUndefined();
    expect(response.warnings).toEqual([expect.stringContaining('does not read chains of controllers')]);
  });
});
