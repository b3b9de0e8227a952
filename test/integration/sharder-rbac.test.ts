// The sharder with nothing but the permissions of its generated manifests (config/sharder/): its RBAC and its
// admission policies, managing its webhook certificates in a Secret as it does by default. It works as its own service account (a ring whose resources it may not list and patch
// is reported Forbidden until a ShardedResourceAccess grants them), and the same service account is denied
// what RBAC alone would let it do: Leases that are not shard Leases, webhooks that intercept anything else.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { App, Chart } from 'cdk8s';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import type { IWebhookClientConfig } from 'kubernetes-models/admissionregistration.k8s.io/v1/WebhookClientConfig';
import { ringLabel, shardLabel, stateLabel } from '../../api/v1alpha1/index.ts';
import { SharderAdmissionPolicy } from '../../cdk8s/sharder-admission-policy.ts';
import { ShardedResourceAccess, type GroupResource } from '../../cdk8s/sharded-resource-access.ts';
import { acquisitionHolder } from '../../sharding/lease.ts';
import { microTime } from '../../runtime/micro-time.ts';
import { isForbidden, patchTypes, RestClient } from '../../runtime/rest.ts';
import { webhookPath } from '../../webhook/path.ts';
import { eventually } from '../support/eventually.ts';
import { FakeShard } from '../support/fake-shard.ts';
import { apply, manifests, type KubeObject } from '../support/manifests.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, getRing } from '../support/rings.ts';
import { serviceAccountKubeconfig } from '../support/service-account.ts';
import {
  startSharder,
  quickLeaderElection,
  managedCertificates,
  type ManagedWebhookCertificates,
  type SharderProcess,
} from '../support/sharder.ts';
import { startWebhookService, type WebhookService } from '../support/webhook-service.ts';

const namespace = 'controller-rings-system';
const serviceAccount = 'controller-rings-sharder';
const leasesPath = (ns: string) => `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
const webhookConfigurationsPath = '/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations';
// Everything the sharder needs but its Deployment (no kubelet here).
const shipped = manifests('sharder/sharder.yaml').filter((object) => object.kind !== 'Deployment');
const isPolicy = (object: KubeObject) => object.kind.startsWith('ValidatingAdmissionPolicy');

let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll: the admin, and the sharder's service account.
let rest: RestClient;
let asSharder: RestClient;
let certificates: ManagedWebhookCertificates;
let kubeconfigPath: string;
let webhookService: WebhookService | undefined;

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  for (const object of shipped) await apply(rest, object);
  await createNamespace(rest, 'shards');
  await createNamespace(rest, 'objects');
  certificates = await managedCertificates();
  kubeconfigPath = await serviceAccountKubeconfig(
    cluster.kubeConfig,
    { namespace, name: serviceAccount },
    certificates.dir,
  );
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  asSharder = new RestClient(kubeConfig);
  webhookService = await startWebhookService();
});

afterAll(async () => {
  asSharder.close();
  await webhookService?.close();
  await cluster?.stop();
});

async function grant(name: string, resources: GroupResource[]): Promise<void> {
  const chart = new Chart(new App(), 'grant');
  new ShardedResourceAccess(chart, name, { resources });
  for (const object of chart.toJson() as KubeObject[]) await apply(rest, object);
}

/** The message of the API server's 403 for `request`; fails when it is allowed or fails otherwise. */
async function denied(request: Promise<unknown>): Promise<string> {
  try {
    await request;
  } catch (error) {
    if (isForbidden(error)) return error.detail;
    throw error;
  }
  throw new Error('the request was allowed');
}

interface WebhookConfigurationOptions {
  /** Default: named for the ring and labelled with it. */
  name?: string;
  clientConfig: IWebhookClientConfig;
  resources: GroupResource[];
}

/** A webhook configuration as the sharder writes one for `ring` (webhook-configuration.ts), with changes. */
function webhookConfiguration(ring: string, options: WebhookConfigurationOptions): KubeObject {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: options.name ?? `controller-rings-${ring}`, labels: { [ringLabel]: ring } },
    webhooks: [
      {
        name: `${ring}.sharder.controller-rings.io`,
        admissionReviewVersions: ['v1'],
        clientConfig: options.clientConfig,
        rules: options.resources.map(({ group, resource }) => ({
          apiGroups: [group],
          apiVersions: ['*'],
          resources: [resource],
          operations: ['CREATE', 'UPDATE'],
          scope: '*',
        })),
        failurePolicy: 'Ignore',
        sideEffects: 'None',
      },
    ],
  };
}

/** Server-side apply as the sharder, dry run: admission judges it, nothing is stored. */
function applyAsSharder(object: KubeObject): Promise<unknown> {
  return apply(asSharder, object, { dryRun: true });
}

function sharderService(ring: string): IWebhookClientConfig {
  return {
    service: { namespace, name: 'controller-rings-sharder-webhook', port: 443, path: webhookPath(ring) },
    caBundle: Buffer.from('not checked').toString('base64'),
  };
}

describe('the shipped admission policies (config/)', () => {
  it("let the sharder's webhooks call its Service only", async () => {
    await grant('shipped', [{ group: '', resource: 'podtemplates' }]);
    await createRing(rest, 'shipped', { resources: [{ resource: 'podtemplates' }] });
    const resources = [{ group: '', resource: 'podtemplates' }];
    const foreign = webhookConfiguration('shipped', {
      clientConfig: { url: `https://127.0.0.1:9443${webhookPath('shipped')}` },
      resources,
    });
    // The API server enforces a new policy, and sees a new ring, a moment after they are created.
    expect(
      await eventually(async () => {
        const message = await denied(applyAsSharder(foreign));
        expect(message).toContain('must call the sharder');
        return message;
      }),
    ).toBe(
      "mutatingwebhookconfigurations.admissionregistration.k8s.io \"controller-rings-shipped\" is forbidden: ValidatingAdmissionPolicy 'controller-rings-sharder-webhook-configurations' with binding 'controller-rings-sharder-webhook-configurations' denied request: the sharder may not write MutatingWebhookConfiguration controller-rings-shipped: its webhook must call the sharder: the Service controller-rings-system/controller-rings-sharder-webhook:443 at /webhooks/sharder/controllerring/<ring>",
    );
    await applyAsSharder(
      webhookConfiguration('shipped', { clientConfig: sharderService('shipped'), resources }),
    );
    const wrongPath = sharderService('another-ring');
    expect(
      await denied(applyAsSharder(webhookConfiguration('shipped', { clientConfig: wrongPath, resources }))),
    ).toContain('must call the sharder');
  });
});

describe('the sharder under its RBAC and admission policies', () => {
  const ring = 'rbac';
  let sharder: SharderProcess | undefined;
  let shard: FakeShard | undefined;

  beforeAll(async () => {
    if (webhookService === undefined) throw new Error('no webhook service');
    const url = webhookService.url;
    // The tests' sharder is called at a URL, not through a Service: the same policies, made for that URL.
    const chart = new Chart(new App(), 'policy');
    new SharderAdmissionPolicy(chart, 'policy', {
      namespace,
      serviceAccountName: serviceAccount,
      leaderElectionLeaseName: 'controller-rings-sharder',
      webhookClientConfig: { url },
    });
    const policies = chart.toJson() as KubeObject[];
    const names = (objects: KubeObject[]) => objects.map(({ kind, metadata }) => `${kind} ${metadata.name}`);
    expect(names(policies)).toEqual(names(shipped.filter(isPolicy)));
    for (const object of policies) await apply(rest, object);
    const service = webhookConfiguration('shipped', {
      clientConfig: sharderService('shipped'),
      resources: [{ group: '', resource: 'podtemplates' }],
    });
    await eventually(async () => {
      expect(await denied(applyAsSharder(service))).toContain(`must call the sharder: the ${url}`);
    });

    sharder = await startSharder({
      kubeconfigPath,
      namespace,
      identity: 'sharder-0',
      certificates,
      webhookUrl: url,
      args: [...quickLeaderElection, '--webhook-certificate-reload-period=1s'],
    });
    webhookService.ports.add(sharder.webhookPort);
    shard = new FakeShard(rest, { ring, name: 'shard-0', namespace: 'shards', durationSeconds: 10 });
    await shard.join();
  });

  afterAll(async () => {
    shard?.crash();
    expect(await sharder?.stop()).toBe(0);
  });

  it('reports a ring Forbidden until the sharder may list and patch its resources, then assigns its objects', async () => {
    await createRing(rest, ring, {
      resources: [{ resource: 'configmaps' }],
      shardLeaseNamespaces: ['shards'],
    });
    await eventually(async () => {
      const condition = (await getRing(rest, ring))?.status?.conditions?.find((c) => c.type === 'Ready');
      expect(condition).toMatchObject({ status: 'False', reason: 'Forbidden' });
      expect(condition?.message).toContain('the sharder may not get, list or patch configmaps');
      // Nor intercept them: the admission policy denies the webhook configuration until they are granted.
      expect(condition?.message).toContain(
        'the API server denied the ring\'s webhook configuration: mutatingwebhookconfigurations.admissionregistration.k8s.io "controller-rings-rbac" is forbidden',
      );
      expect(condition?.message).toContain(
        'its webhook names configmaps, which its service account may not patch',
      );
    });

    await grant(ring, [{ group: '', resource: 'configmaps' }]);
    // The sharder looks at a problem again after 30 s (and caches access answers as long).
    await eventually(
      async () => {
        const condition = (await getRing(rest, ring))?.status?.conditions?.find((c) => c.type === 'Ready');
        expect(condition).toMatchObject({ status: 'True', reason: 'ShardsAvailable' });
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    // Server-side applied through the policy, with the CA bundle.
    const configuration = await rest.request<IMutatingWebhookConfiguration>({
      path: `${webhookConfigurationsPath}/controller-rings-${ring}`,
    });
    expect(configuration.webhooks?.[0]?.clientConfig).toEqual({
      url: `${webhookService?.url ?? ''}${webhookPath(ring)}`,
      caBundle: expect.any(String),
    });

    // Labelled by the webhook at creation: the API server calls it.
    const created = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
      method: 'POST',
      path: '/api/v1/namespaces/objects/configmaps',
      body: { metadata: { name: 'assigned' } },
    });
    expect(created.metadata.labels?.[shardLabel(ring)]).toBe('shard-0');
  }, 150_000);

  it('keeps its webhook certificates in the Secret the Role names: created at start, replaced when unusable', async () => {
    const path = `/api/v1/namespaces/${namespace}/secrets/controller-rings-sharder-webhook-certificates`;
    const secret = await rest.request<ISecret>({ path });
    expect(secret.metadata?.managedFields?.map(({ manager }) => manager)).toEqual([
      'controller-rings-sharder',
    ]);
    // Garbage in tls.crt: the leader writes a new CA and certificate over it (update, by name).
    await rest.request({
      method: 'PUT',
      path,
      body: { ...secret, data: { ...secret.data, 'tls.crt': btoa('not a certificate') } },
    });
    await eventually(async () => {
      const replaced = await rest.request<ISecret>({ path });
      expect(atob(replaced.data?.['tls.crt'] ?? '')).toContain('BEGIN CERTIFICATE');
      expect(replaced.data?.['ca.crt']).not.toBe(secret.data?.['ca.crt']);
    });
    // The new CA reaches the webhook configuration, and the API server calls the webhook with it.
    await eventually(async () => {
      const created = await rest.request<{ metadata: { labels?: Record<string, string> } }>({
        method: 'POST',
        path: '/api/v1/namespaces/objects/configmaps',
        query: { dryRun: 'All' },
        body: { metadata: { name: 'after-replacement' } },
      });
      expect(created.metadata.labels?.[shardLabel(ring)]).toBe('shard-0');
    });
  });

  it('labels shard Lease states, acquires the Lease of a gone shard and deletes an orphaned one', async () => {
    const longAgo = microTime(new Date(Date.now() - 5 * 60_000));
    const lease = (name: string, holderIdentity: string, leaseDurationSeconds: number): ILease => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name, namespace: 'shards', labels: { [ringLabel]: ring } },
      spec: { holderIdentity, leaseDurationSeconds, acquireTime: longAgo, renewTime: longAgo },
    });
    // Not renewed for minutes: uncertain. Released minutes ago: orphaned.
    await rest.request({ method: 'POST', path: leasesPath('shards'), body: lease('gone', 'gone', 10) });
    await rest.request({ method: 'POST', path: leasesPath('shards'), body: lease('released', '', 1) });
    const read = (name: string) => rest.request<ILease>({ path: `${leasesPath('shards')}/${name}` });

    await eventually(async () => {
      expect((await read('shard-0')).metadata?.labels?.[stateLabel]).toBe('ready');
      const gone = await read('gone');
      expect(gone.spec?.holderIdentity).toBe(acquisitionHolder('sharder-0'));
      expect(gone.metadata?.labels?.[stateLabel]).toBe('dead');
      await expect(read('released')).rejects.toMatchObject({ code: 404 });
    });
  });

  it("records the ring's Events in default, as its Role there allows", async () => {
    const uid = (await getRing(rest, ring))?.metadata?.uid ?? '';
    await eventually(async () => {
      const { items } = await rest.request<{ items: { reason: string; related?: { name: string } }[] }>({
        path: '/apis/events.k8s.io/v1/namespaces/default/events',
        query: { fieldSelector: `regarding.name=${ring},regarding.uid=${uid}` },
      });
      const told = items.map((event) => `${event.reason} ${event.related?.name ?? ''}`);
      expect(told).toEqual(
        expect.arrayContaining(['ShardJoined shard-0', 'ShardDead gone', 'ShardLeaseDeleted released']),
      );
    });
  });

  it('may not write Leases that are not shard Leases, nor any in kube-system', async () => {
    const create = (ns: string, name: string, labels: Record<string, string>) =>
      rest.request({
        method: 'POST',
        path: leasesPath(ns),
        body: { metadata: { name, labels }, spec: { holderIdentity: '' } },
      });
    // The kube-system one carries a ring label of no ring here, so that no ring counts it.
    await create('kube-system', 'foreign', {});
    await create('kube-system', 'ring-labelled', { [ringLabel]: 'elsewhere' });
    await create('shards', 'foreign', {});
    await createNamespace(rest, 'untrusted');
    await create('untrusted', 'shard-0', { [ringLabel]: ring });
    const label = (ns: string, name: string, labels: Record<string, string | null>) =>
      asSharder.request({
        method: 'PATCH',
        path: `${leasesPath(ns)}/${name}`,
        contentType: patchTypes.merge,
        body: { metadata: { labels } },
      });
    const remove = (ns: string, name: string) =>
      asSharder.request({ method: 'DELETE', path: `${leasesPath(ns)}/${name}` });
    const denial = (operation: string, lease: string, why: string) =>
      `ValidatingAdmissionPolicy 'controller-rings-sharder-leases' with binding 'controller-rings-sharder-leases' denied request: the sharder may not ${operation} Lease ${lease}: ${why}`;
    const clusterOwn = "kube-system and kube-node-lease hold the cluster's own Leases, never shard Leases";

    for (const name of ['foreign', 'ring-labelled']) {
      expect(await denied(label('kube-system', name, { [stateLabel]: 'dead' }))).toContain(
        denial('write', `kube-system/${name}`, clusterOwn),
      );
      expect(await denied(remove('kube-system', name))).toContain(
        denial('write', `kube-system/${name}`, clusterOwn),
      );
    }
    expect(await denied(label('shards', 'foreign', { [ringLabel]: ring }))).toContain(
      denial(
        'update',
        'shards/foreign',
        'it has no label controller-rings.io/ring, and the sharder writes only shard Leases and its leader-election Lease controller-rings-system/controller-rings-sharder',
      ),
    );
    expect(await denied(remove('shards', 'foreign'))).toContain(
      'the sharder may not delete Lease shards/foreign',
    );
    // A Lease of the ring in a namespace the ring does not trust is no shard Lease of it.
    expect(await denied(label('untrusted', 'shard-0', { [stateLabel]: 'dead' }))).toContain(
      "ValidatingAdmissionPolicy 'controller-rings-sharder-shard-lease-namespaces' with binding 'controller-rings-sharder-shard-lease-namespaces' denied request: the sharder may not update shard Lease untrusted/shard-0: ring rbac does not trust namespace untrusted (spec.shardLeaseNamespaces)",
    );
    expect(await denied(remove('untrusted', 'shard-0'))).toContain(
      'the sharder may not delete shard Lease untrusted/shard-0: ring rbac does not trust namespace untrusted',
    );
    expect(await denied(label('shards', 'shard-0', { [ringLabel]: null }))).toContain(
      denial(
        'remove or change the label controller-rings.io/ring of shard',
        'shards/shard-0',
        'it keeps a shard Lease in its ring',
      ),
    );
    expect(
      await denied(
        asSharder.request({
          method: 'POST',
          path: leasesPath(namespace),
          body: {
            metadata: { name: 'shard-9', labels: { [ringLabel]: ring } },
            spec: { holderIdentity: 'shard-9' },
          },
        }),
      ),
    ).toContain(
      denial(
        'create',
        `${namespace}/shard-9`,
        'it creates only its leader-election Lease controller-rings-system/controller-rings-sharder; shards create their own Leases',
      ),
    );
  });

  it('may not write webhook configurations that intercept other resources, call elsewhere or are not named for a ring', async () => {
    const pods = [{ group: '', resource: 'pods' }];
    const configMaps = [{ group: '', resource: 'configmaps' }];
    const url = webhookService?.url ?? '';
    const sharderClient = (name: string) => ({ url: `${url}${webhookPath(name)}` });
    const denial = (name: string, why: string) =>
      `denied request: the sharder may not write MutatingWebhookConfiguration ${name}: ${why}`;

    // What the sharder writes for its ring passes.
    await applyAsSharder(
      webhookConfiguration(ring, { clientConfig: sharderClient(ring), resources: configMaps }),
    );
    // Pods: granted for no ring, and none of this ring's. Which of the two policies' denials the API server
    // reports is its choice.
    expect(
      await denied(
        applyAsSharder(webhookConfiguration(ring, { clientConfig: sharderClient(ring), resources: pods })),
      ),
    ).toContain(`the sharder may not write MutatingWebhookConfiguration controller-rings-${ring}: `);
    // Pod templates: granted to the sharder, but for ring shipped.
    expect(
      await denied(
        applyAsSharder(
          webhookConfiguration(ring, {
            clientConfig: sharderClient(ring),
            resources: [{ group: '', resource: 'podtemplates' }],
          }),
        ),
      ),
    ).toContain(
      denial(
        `controller-rings-${ring}`,
        `its webhook names podtemplates, none of ring ${ring}'s resources or controlled resources`,
      ),
    );
    expect(
      await denied(
        applyAsSharder(
          webhookConfiguration('no-ring', { clientConfig: sharderClient('no-ring'), resources: pods }),
        ),
      ),
    ).toContain(
      denial(
        'controller-rings-no-ring',
        'its webhook names pods, which its service account may not patch: the sharder intercepts only resources granted to it for rings (ShardedResourceAccess)',
      ),
    );
    expect(
      await denied(
        applyAsSharder(
          webhookConfiguration('no-ring', {
            clientConfig: sharderClient('no-ring'),
            resources: [{ group: 'coordination.k8s.io', resource: 'leases' }],
          }),
        ),
      ),
    ).toContain('its webhook names resources the sharder may patch for itself');
    expect(
      await denied(
        applyAsSharder(
          webhookConfiguration(ring, {
            clientConfig: { url: `https://attacker.example${webhookPath(ring)}` },
            resources: configMaps,
          }),
        ),
      ),
    ).toContain(
      denial(
        `controller-rings-${ring}`,
        `its webhook must call the sharder: the ${url}/webhooks/sharder/controllerring/<ring>`,
      ),
    );
    expect(
      await denied(
        applyAsSharder(
          webhookConfiguration(ring, {
            name: 'intercept-configmaps',
            clientConfig: sharderClient(ring),
            resources: configMaps,
          }),
        ),
      ),
    ).toContain(denial('intercept-configmaps', 'it writes only those named controller-rings-<ring>'));
  });
});
