// The generated manifests on a real API server: it accepts them as they are, and the sharder's service account
// may do what the sharder does and nothing more; sharded resources only once a ShardedResourceAccess grants
// them. (No Deployment runs here: there is no kubelet.) The default manifests need no cert-manager: the sharder
// manages its webhook certificates in a Secret.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { ShardedResourceAccess } from '../../cdk8s/sharded-resource-access.ts';
import { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import {
  describeAttributes,
  permitted as permittedFor,
  serviceAccountSubject,
  type Attributes,
} from '../support/access-review.ts';
import { testKubeConfig } from '../support/kube.ts';
import { apply as applyTo, manifests, remove as removeFrom, type KubeObject } from '../support/manifests.ts';

const rest = new RestClient(testKubeConfig());
const apply = (object: KubeObject, options?: { dryRun?: boolean }): Promise<KubeObject> =>
  applyTo(rest, object, options);
const remove = (object: KubeObject): Promise<void> => removeFrom(rest, object);
const namespace = 'controller-rings-system';
const sharderAccount = serviceAccountSubject(namespace, 'controller-rings-sharder');
const shardNamespace = 'manifests-shards';

/** The checks the sharder's service account passes. */
const permitted = (checks: Attributes[]): Promise<string[]> => permittedFor(rest, sharderAccount, checks);

const all = (checks: Attributes[]): string[] => checks.map(describeAttributes);

const rings = { group: 'sharding.controller-rings.io', resource: 'controllerrings' };
const leases = { group: 'coordination.k8s.io', resource: 'leases' };
const secrets = { resource: 'secrets', namespace };
const certificateSecret = 'controller-rings-sharder-webhook-certificates';
/** The rings' Events: cluster-scoped objects have theirs in default. */
const ringEvents = { group: 'events.k8s.io', resource: 'events', namespace: 'default' };
const webhookConfigurations = {
  group: 'admissionregistration.k8s.io',
  resource: 'mutatingwebhookconfigurations',
};

/** What the sharder does: watches, ring status and finalizers, shard Leases, webhook configurations. */
const needed: Attributes[] = [
  ...['list', 'watch', 'patch'].map((verb) => ({ verb, ...rings })),
  { verb: 'patch', ...rings, subresource: 'status' },
  { verb: 'update', ...rings, subresource: 'finalizers' },
  ...['list', 'watch'].map((verb) => ({ verb, ...leases })),
  ...['update', 'patch', 'delete'].map((verb) => ({ verb, ...leases, namespace: shardNamespace })),
  { verb: 'create', ...leases, namespace },
  ...['get', 'update'].map((verb) => ({ verb, ...leases, namespace, name: 'controller-rings-sharder' })),
  ...['list', 'watch', 'create', 'patch', 'delete'].map((verb) => ({ verb, ...webhookConfigurations })),
  ...['list', 'watch'].map((verb) => ({ verb, resource: 'namespaces' })),
  { verb: 'create', group: 'authorization.k8s.io', resource: 'selfsubjectaccessreviews' },
  // Its webhook certificates: create the Secret, read, watch and replace it.
  { verb: 'create', ...secrets },
  ...['get', 'list', 'watch', 'update'].map((verb) => ({ verb, ...secrets, name: certificateSecret })),
  // The leader's Events on rings, and their series.
  ...['create', 'patch'].map((verb) => ({ verb, ...ringEvents })),
];

const configMaps = (verb: string): Attributes => ({
  verb,
  resource: 'configmaps',
  namespace: shardNamespace,
});

const forbidden: Attributes[] = [
  { verb: 'list', resource: 'secrets' },
  { verb: 'get', resource: 'secrets', namespace },
  { verb: 'list', resource: 'secrets', namespace },
  ...['get', 'update', 'patch', 'delete'].map((verb) => ({ verb, ...secrets, name: 'another-secret' })),
  ...['patch', 'delete'].map((verb) => ({ verb, ...secrets, name: certificateSecret })),
  { verb: 'create', resource: 'secrets', namespace: shardNamespace },
  { verb: 'list', resource: 'configmaps' },
  configMaps('patch'),
  { verb: 'create', ...leases, namespace: shardNamespace },
  { verb: 'create', ...leases, namespace: 'kube-system' },
  { verb: 'create', ...rings },
  { verb: 'delete', ...rings },
  { verb: 'update', resource: 'namespaces', name: shardNamespace },
  { verb: 'create', group: 'admissionregistration.k8s.io', resource: 'validatingwebhookconfigurations' },
  { verb: 'create', resource: 'events', namespace },
  { verb: 'create', ...ringEvents, namespace },
  { verb: 'create', ...ringEvents, namespace: shardNamespace },
  ...['get', 'list', 'update', 'delete'].map((verb) => ({ verb, ...ringEvents })),
  { verb: 'impersonate', resource: 'serviceaccounts' },
  { verb: 'escalate', group: 'rbac.authorization.k8s.io', resource: 'clusterroles' },
];

// config/install.yaml, the release's single file: the CRD, then config/sharder/sharder.yaml's objects.
const install = manifests('install.yaml');
const crds = install.filter((object) => object.kind === 'CustomResourceDefinition');
const sharder = install.filter((object) => object.kind !== 'CustomResourceDefinition');
const deployment = sharder.find((object) => object.kind === 'Deployment');
// Everything but the Deployment (no kubelet).
const applied = sharder.filter((object) => object.kind !== 'Deployment');

function shardedResourceAccess(): KubeObject[] {
  const chart = new Chart(new App(), 'test');
  new ShardedResourceAccess(chart, 'manifests-test', { resources: [{ group: '', resource: 'configmaps' }] });
  return chart.toJson() as KubeObject[];
}

describe('generated manifests', () => {
  beforeAll(async () => {
    for (const object of applied) await apply(object);
  });

  afterAll(async () => {
    for (const object of [...shardedResourceAccess(), ...applied.toReversed()]) await remove(object);
    rest.close();
  });

  it('are accepted by the API server as they are, the CRD and the Deployment too (dry run)', async () => {
    // Nothing of cert-manager's (its API is not installed here): every object is applied for real.
    expect(sharder.filter((object) => object.apiVersion.startsWith('cert-manager.io/'))).toEqual([]);
    expect(applied.map(({ kind }) => kind)).toEqual(
      expect.arrayContaining([
        'Namespace',
        'ServiceAccount',
        'ClusterRole',
        'Role',
        'Service',
        'ValidatingAdmissionPolicy',
        'ValidatingAdmissionPolicyBinding',
      ]),
    );
    if (deployment === undefined) throw new Error('config/sharder/sharder.yaml has no Deployment');
    const served = await apply(deployment, { dryRun: true });
    // Fields an older API server or a typo would drop or reject.
    expect(served).toMatchObject({
      spec: {
        template: {
          spec: {
            containers: [{ lifecycle: { preStop: { sleep: { seconds: 5 } } } }],
            topologySpreadConstraints: [{ matchLabelKeys: ['pod-template-hash'] }, expect.anything()],
          },
        },
      },
    });
    expect(crds).toHaveLength(1);
    for (const crd of crds) await apply(crd, { dryRun: true });
  });

  it("let the sharder's service account do what the sharder does, and not more", async () => {
    await eventually(async () => {
      expect(await permitted(needed)).toEqual(all(needed));
    });
    expect(await permitted(forbidden)).toEqual([]);
  });

  it('let the sharder list and patch sharded resources only while a ShardedResourceAccess grants them', async () => {
    const grant = [configMaps('get'), { verb: 'list', resource: 'configmaps' }, configMaps('patch')];
    const beyond = [configMaps('delete'), configMaps('create'), { verb: 'list', resource: 'secrets' }];
    expect(await permitted(grant)).toEqual([]);

    const access = shardedResourceAccess();
    for (const object of access) await apply(object);
    await eventually(async () => {
      expect(await permitted(grant)).toEqual(all(grant));
    });
    expect(await permitted(beyond)).toEqual([]);

    for (const object of access) await remove(object);
    await eventually(async () => {
      expect(await permitted(grant)).toEqual([]);
    });
  });
});
