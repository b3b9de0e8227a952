// The example controller's generated manifests (examples/configmap-digest/deploy/) on a real API server: it
// accepts them, the shards' service account may do what a shard of the example does and no more, and a shard
// holding nothing but that service account's token joins the ring, reconciles and hands objects over. No
// sharder runs here (it would act on every ring of the shared control plane): the test labels objects as the
// sharder would.
import { readFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { drainLabel, drainValue, ringLabel, shardLabel } from '../../api/v1alpha1/index.ts';
import { yamlDocuments } from '../../cdk8s/generated-files.ts';
import { digestOf, digestSecretName } from '../../examples/configmap-digest/controller.ts';
import {
  namespace,
  namespaceLabel,
  ring,
  serviceAccountName,
} from '../../examples/configmap-digest/manifests.ts';
import { patchTypes, RestClient } from '../../runtime/rest.ts';
import {
  describeAttributes,
  grantsIn,
  permitted,
  serviceAccountSubject,
  type Attributes,
} from '../support/access-review.ts';
import { eventually } from '../support/eventually.ts';
import { startExampleShard, type ExampleShard } from '../support/example-shard.ts';
import { testKubeConfig } from '../support/kube.ts';
import { apply, remove, type KubeObject } from '../support/manifests.ts';
import { createNamespace } from '../support/rings.ts';
import { serviceAccountKubeconfig } from '../support/service-account.ts';

const admin = testKubeConfig();
const rest = new RestClient(admin);
const subject = serviceAccountSubject(namespace, serviceAccountName);
const appsNamespace = 'example-manifests-apps';
const shardName = 'example-manifests-shard-0';

const objects = yamlDocuments(
  readFileSync(
    new URL('../../examples/configmap-digest/deploy/configmap-digest.yaml', import.meta.url),
    'utf8',
  ),
) as KubeObject[];
const deployment = objects.find(({ kind }) => kind === 'Deployment');
// The sharder's grant is only dry-run: applied, it would widen what test/integration/manifests.test.ts, on the
// same control plane, finds the sharder's service account may do.
const sharderGrant = objects.filter(({ metadata }) => metadata.name === `controller-rings-sharded-${ring}`);
const applied = objects.filter((object) => object !== deployment && !sharderGrant.includes(object));

let dir: string;
let shard: ExampleShard | undefined;

/** A shard's whole API use: caches, handovers, the reconcile's create and update, its Lease. */
const needed: Attributes[] = [
  ...['list', 'watch'].flatMap((verb) => [
    { verb, resource: 'configmaps' },
    { verb, resource: 'secrets' },
  ]),
  { verb: 'patch', resource: 'configmaps', namespace: appsNamespace },
  { verb: 'update', resource: 'configmaps', subresource: 'finalizers', namespace: appsNamespace },
  ...['create', 'update', 'patch'].map((verb) => ({ verb, resource: 'secrets', namespace: appsNamespace })),
  ...['get', 'create', 'update'].map((verb) => ({
    verb,
    group: 'coordination.k8s.io',
    resource: 'leases',
    namespace,
    name: verb === 'create' ? undefined : shardName,
  })),
];

const forbidden: Attributes[] = [
  ...['create', 'update', 'delete'].map((verb) => ({
    verb,
    resource: 'configmaps',
    namespace: appsNamespace,
  })),
  { verb: 'delete', resource: 'secrets', namespace: appsNamespace },
  // Other Leases: node heartbeats, the sharder's, and listing or deleting those of other shards.
  ...['create', 'update'].map((verb) => ({
    verb,
    group: 'coordination.k8s.io',
    resource: 'leases',
    namespace: 'kube-node-lease',
  })),
  { verb: 'update', group: 'coordination.k8s.io', resource: 'leases', namespace: 'controller-rings-system' },
  ...['list', 'delete'].map((verb) => ({
    verb,
    group: 'coordination.k8s.io',
    resource: 'leases',
    namespace,
  })),
  { verb: 'patch', group: 'sharding.controller-rings.io', resource: 'controllerrings', name: ring },
  { verb: 'list', resource: 'namespaces' },
  { verb: 'create', resource: 'pods', namespace },
  { verb: 'create', resource: 'events', namespace: appsNamespace },
];

function configMapPath(name: string): string {
  return `/api/v1/namespaces/${appsNamespace}/configmaps/${name}`;
}

function secretPath(name: string): string {
  return `/api/v1/namespaces/${appsNamespace}/secrets/${name}`;
}

/** Sets or removes (null) labels, as the sharder does. */
function label(path: string, labels: Record<string, string | null>): Promise<unknown> {
  return rest.request({
    method: 'PATCH',
    path,
    contentType: patchTypes.merge,
    body: { metadata: { labels } },
  });
}

beforeAll(async () => {
  for (const object of applied) await apply(rest, object);
  await createNamespace(rest, appsNamespace, { [namespaceLabel.key]: namespaceLabel.value });
  dir = await mkdtemp(join(tmpdir(), 'example-manifests-'));
});

afterAll(async () => {
  await shard?.stop();
  await rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${appsNamespace}` });
  for (const object of applied.toReversed()) await remove(rest, object);
  rest.close();
});

describe('the example controller manifests', () => {
  it('are accepted by the API server, the Deployment and the grant to the sharder too (dry run)', async () => {
    expect(applied.map(({ kind }) => kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'ControllerRing',
      'Namespace',
      'Role',
      'RoleBinding',
      'ServiceAccount',
    ]);
    expect(sharderGrant.map(({ kind }) => kind)).toEqual(['ClusterRole', 'ClusterRoleBinding']);
    if (deployment === undefined) throw new Error('deploy/ has no Deployment');
    for (const object of [deployment, ...sharderGrant]) await apply(rest, object, { dryRun: true });
  });

  it("let the shards' service account do what a shard does, and not more", async () => {
    await eventually(async () => {
      expect(await permitted(rest, subject, needed)).toEqual(needed.map(describeAttributes));
    });
    expect(await permitted(rest, subject, forbidden)).toEqual([]);
  });

  it("let the shards' service account do nothing else, in the shards' namespace or another", async () => {
    // A service account without a grant of its own: what every service account may do.
    const nobody = { namespace: appsNamespace, name: 'no-grants' };
    await apply(rest, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: nobody });
    const clientOf = async (account: { namespace: string; name: string }) => {
      const kubeConfig = new KubeConfig();
      kubeConfig.loadFromFile(await serviceAccountKubeconfig(admin, account, dir));
      return new RestClient(kubeConfig);
    };
    const shards = await clientOf({ namespace, name: serviceAccountName });
    const everyone = await clientOf(nobody);
    // Everywhere: the library's caches and drain acknowledgements (get comes with list), the reconcile's create and
    // update of Secrets, and the finalizers update that blockOwnerDeletion takes. In the shards' namespace: their Leases.
    const everywhere = [
      ...['get', 'list', 'watch', 'patch'].flatMap((verb) => [`${verb} configmaps`, `${verb} secrets`]),
      'create secrets',
      'update secrets',
      'update configmaps/finalizers',
    ];
    const leases = ['get', 'create', 'update'].map((verb) => `${verb} leases.coordination.k8s.io`);
    try {
      for (const [where, expected] of [
        [appsNamespace, everywhere],
        [namespace, [...everywhere, ...leases]],
      ] as const) {
        const common = new Set(await grantsIn(everyone, where));
        const own = (await grantsIn(shards, where)).filter((grant) => !common.has(grant));
        expect({ where, own }).toEqual({ where, own: [...expected].sort() });
      }
    } finally {
      shards.close();
      everyone.close();
    }
  });

  it('let a shard with nothing but these permissions join the ring, reconcile and hand objects over', async () => {
    const kubeconfigPath = await serviceAccountKubeconfig(
      admin,
      { namespace, name: serviceAccountName },
      dir,
    );
    shard = await startExampleShard({
      kubeconfigPath,
      ring,
      name: shardName,
      namespace,
      leaseDurationSeconds: 10,
      dir,
    });
    const lease = await rest.request<ILease>({
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${shardName}`,
    });
    expect(lease).toMatchObject({
      metadata: { labels: { [ringLabel]: ring } },
      spec: { holderIdentity: shardName },
    });

    // Assigned to the shard, as the sharder's webhook would: the reconcile applies the digest Secret.
    const configMap = await rest.request<IConfigMap>({
      method: 'POST',
      path: `/api/v1/namespaces/${appsNamespace}/configmaps`,
      body: {
        metadata: { name: 'settings', labels: { [shardLabel(ring)]: shardName } },
        data: { color: 'blue' },
      },
    });
    const secretName = digestSecretName('settings');
    await eventually(async () => {
      const secret = await rest.request<ISecret>({ path: secretPath(secretName) });
      expect(secret.data?.digest).toBe(btoa(digestOf(configMap)));
      expect(secret.metadata?.labels?.[shardLabel(ring)]).toBe(shardName);
      expect(secret.metadata?.ownerReferences).toEqual([
        expect.objectContaining({ name: 'settings', controller: true, blockOwnerDeletion: true }),
      ]);
    });

    // A drain of the ConfigMap: the shard hands its Secret over first, then the ConfigMap, each by removing both
    // labels (no webhook assigns them anew here).
    await label(configMapPath('settings'), { [drainLabel(ring)]: drainValue });
    const unlabelled = async (path: string): Promise<string> => {
      const { metadata } = await rest.request<IConfigMap | ISecret>({ path });
      expect(metadata?.labels ?? {}).not.toHaveProperty([shardLabel(ring)]);
      expect(metadata?.labels ?? {}).not.toHaveProperty([drainLabel(ring)]);
      return metadata?.resourceVersion ?? '';
    };
    const configMapVersion = await eventually(() => unlabelled(configMapPath('settings')));
    const secretVersion = await eventually(() => unlabelled(secretPath(secretName)));
    expect(Number(secretVersion)).toBeLessThan(Number(configMapVersion));
  });
});
