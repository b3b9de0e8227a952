// The assignment webhook called by the real kube-apiserver: objects of a ring get the shard label of their
// hash key when created or when their labels are removed, controlled objects follow their controller, and
// neither other objects nor an unreachable webhook keep a write from succeeding (failurePolicy Ignore).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { pino } from 'pino';
import { apiVersion, kind, ringLabel, shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { createCertificateAuthority } from '../../runtime/certificates.ts';
import { isNotFound, patchTypes, RestClient } from '../../runtime/rest.ts';
import { HashRing } from '../../sharding/ring.ts';
import { Assigner, type RingDirectory } from '../../webhook/assign.ts';
import { webhookPath } from '../../webhook/path.ts';
import { defaultWebhookLimits, WebhookServer } from '../../webhook/server.ts';
import { eventually } from '../support/eventually.ts';
import { testKubeConfig } from '../support/kube.ts';

const ring = 'webhook-test';
const namespace = 'webhook-test';
const otherNamespace = 'webhook-test-other';
const label = shardLabel(ring);
const shards = ['a', 'b', 'c'];
const hashRing = new HashRing(shards);
const configurationPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/${ring}`;

const controllerRing: ControllerRing = {
  apiVersion,
  kind,
  metadata: { name: ring },
  spec: {
    resources: [
      { group: '', resource: 'configmaps', controlledResources: [{ group: '', resource: 'secrets' }] },
    ],
  },
};
const directory: RingDirectory = {
  ring: (name) => (name === ring ? controllerRing : undefined),
  // Shards that renew their Leases, in the namespace the ring trusts by default.
  leases: () =>
    shards.map((name) => ({
      metadata: { name, namespace: 'default', labels: { [ringLabel]: ring } },
      spec: { holderIdentity: name, renewTime: new Date().toISOString(), leaseDurationSeconds: 60 },
    })),
};

const rest = new RestClient(testKubeConfig());
let server: WebhookServer | undefined;
/** The size of the largest review the API server sent, in bytes. */
let largestReview = 0;

interface Created {
  metadata: IObjectMeta & { name: string; uid: string };
}

async function create(
  resource: string,
  metadata: IObjectMeta,
  { inNamespace = namespace, dryRun = false }: { inNamespace?: string; dryRun?: boolean } = {},
): Promise<Created> {
  return rest.request<Created>({
    method: 'POST',
    path: `/api/v1/namespaces/${inNamespace}/${resource}`,
    query: dryRun ? { dryRun: 'All' } : {},
    body: { metadata },
  });
}

function shardOf(object: Created): string | undefined {
  return object.metadata.labels?.[label];
}

async function deleteIgnoringNotFound(path: string): Promise<void> {
  await rest.request({ method: 'DELETE', path }).catch((error: unknown) => {
    if (!isNotFound(error)) throw error;
  });
}

beforeAll(async () => {
  for (const name of [namespace, otherNamespace]) {
    await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } });
  }
  const authority = await createCertificateAuthority('webhook-test-ca');
  const tls = await authority.sign({ commonName: 'webhook', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const logger = pino({ level: 'silent' });
  const assigner = new Assigner({ directory, logger });
  server = new WebhookServer({
    handler: {
      handle(name, body) {
        largestReview = Math.max(largestReview, body.length);
        return assigner.handle(name, body);
      },
    },
    tls,
    logger,
    host: '127.0.0.1',
    port: 0,
  });
  const { port } = await server.start();

  const configuration: IMutatingWebhookConfiguration = {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: ring },
    webhooks: [
      {
        name: `${ring}.sharding.controller-rings.io`,
        clientConfig: {
          url: `https://127.0.0.1:${port}${webhookPath(ring)}`,
          caBundle: Buffer.from(authority.certificate).toString('base64'),
        },
        rules: [
          {
            apiGroups: [''],
            apiVersions: ['v1'],
            operations: ['CREATE', 'UPDATE'],
            resources: ['configmaps', 'secrets'],
          },
        ],
        objectSelector: { matchExpressions: [{ key: label, operator: 'DoesNotExist' }] },
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
        failurePolicy: 'Ignore',
        sideEffects: 'None',
        admissionReviewVersions: ['v1'],
        timeoutSeconds: 5,
      },
    ],
  };
  await rest.request({
    method: 'POST',
    path: '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations',
    body: configuration,
  });
  // The API server sees new webhook configurations through an informer, a moment later.
  await eventually(async () => {
    const probe = await create('configmaps', { name: 'probe' }, { dryRun: true });
    expect(shardOf(probe)).toBeDefined();
  });
});

afterAll(async () => {
  await deleteIgnoringNotFound(configurationPath);
  await server?.stop();
  for (const name of [namespace, otherNamespace]) await deleteIgnoringNotFound(`/api/v1/namespaces/${name}`);
  rest.close();
});

describe('assignment webhook', () => {
  it('labels a ring resource object with the shard of its key, and an object it controls with the same', async () => {
    const owner = await create('configmaps', { name: 'owner' });
    const shard = hashRing.shardFor(`/ConfigMap/${namespace}/owner`);
    expect(shardOf(owner)).toBe(shard);

    const ownerReferences = [
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata.uid, controller: true },
    ];
    expect(shardOf(await create('secrets', { name: 'owned', ownerReferences }))).toBe(shard);
  });

  it('spreads objects over the shards as the HashRing says', async () => {
    const names = Array.from({ length: 12 }, (_, i) => `spread-${i}`);
    const objects = await Promise.all(names.map((name) => create('configmaps', { name })));
    expect(objects.map(shardOf)).toEqual(
      names.map((name) => hashRing.shardFor(`/ConfigMap/${namespace}/${name}`)),
    );
  });

  it('leaves a controlled resource object without controller reference unlabelled', async () => {
    const owner = await create('configmaps', { name: 'referenced' });
    const ownerReferences = [
      { apiVersion: 'v1', kind: 'ConfigMap', name: 'referenced', uid: owner.metadata.uid },
    ];
    expect(shardOf(await create('secrets', { name: 'not-controlled', ownerReferences }))).toBeUndefined();
    expect(shardOf(await create('secrets', { name: 'unowned' }))).toBeUndefined();
  });

  it('leaves an object created with generateName to the sync', async () => {
    expect(shardOf(await create('configmaps', { generateName: 'generated-' }))).toBeUndefined();
  });

  it('leaves objects in namespaces outside the webhook configuration untouched', async () => {
    expect(
      shardOf(await create('configmaps', { name: 'elsewhere' }, { inNamespace: otherNamespace })),
    ).toBeUndefined();
  });

  it('assigns an object anew when a drain acknowledgement removes its labels', async () => {
    const draining = await create('configmaps', {
      name: 'draining',
      labels: { [label]: 'gone', [`drain.controller-rings.io/${ring}`]: 'true' },
    });
    expect(shardOf(draining)).toBe('gone');
    const acknowledged = await rest.request<Created>({
      method: 'PATCH',
      path: `/api/v1/namespaces/${namespace}/configmaps/draining`,
      contentType: patchTypes.merge,
      body: { metadata: { labels: { [label]: null, [`drain.controller-rings.io/${ring}`]: null } } },
    });
    expect(acknowledged.metadata.labels).toEqual({
      [label]: hashRing.shardFor(`/ConfigMap/${namespace}/draining`),
    });
  });

  it('assigns the largest ConfigMap on an UPDATE that removed its label: a review of two, within the body limit', async () => {
    // The API server takes at most 1 MiB of a ConfigMap's data; binaryData grows by 4/3 as base64 in JSON.
    const binaryData = { blob: randomBytes(1024 * 1024 - 64).toString('base64') };
    await rest.request({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      body: { metadata: { name: 'largest', labels: { [label]: 'gone' } }, binaryData },
    });
    const updated = await rest.request<Created>({
      method: 'PATCH',
      path: `/api/v1/namespaces/${namespace}/configmaps/largest`,
      contentType: patchTypes.merge,
      body: { metadata: { labels: { [label]: null } } },
    });
    expect(shardOf(updated)).toBe(hashRing.shardFor(`/ConfigMap/${namespace}/largest`));
    // The object and its old version, each 1.33 MiB of JSON.
    expect(largestReview).toBeGreaterThan(2.6 * 1024 * 1024);
    expect(largestReview).toBeLessThan(defaultWebhookLimits.maxRequestBytes);
  });

  it('lets writes through unchanged while the webhook server is down', async () => {
    await server?.stop();
    expect(shardOf(await create('configmaps', { name: 'while-down' }))).toBeUndefined();
  });
});
