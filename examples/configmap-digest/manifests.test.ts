// deploy/ is what users apply: it must be what manifests.ts synthesizes now, grant the shards exactly what the
// example does, and describe a ring of the resources the controller reconciles and controls.
import { describe, expect, it } from '@jest/globals';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { ControllerRing } from 'controller-rings/api';
import { defaultImage } from '../../cdk8s/app.ts';
import { assertSynthesized, yamlDocuments } from '../../cdk8s/generated-files.ts';
import { configMapDigestController } from './controller.ts';
import { configMapDigestDeploy, renderExampleManifests } from './manifests.ts';

interface Named {
  kind: string;
  metadata: { name: string; namespace?: string };
}

const objects = yamlDocuments(renderExampleManifests().get('configmap-digest.yaml') ?? '') as Named[];

interface Kinds {
  ControllerRing: ControllerRing;
  ClusterRole: IClusterRole;
  ClusterRoleBinding: IClusterRoleBinding;
  Role: IRole;
  RoleBinding: IRoleBinding;
  Deployment: IDeployment;
}

function find<K extends keyof Kinds>(kind: K, name: string): Kinds[K] {
  const object = objects.find((candidate) => candidate.kind === kind && candidate.metadata.name === name);
  if (object === undefined) throw new Error(`no ${kind} ${name}`);
  return object as unknown as Kinds[K];
}

describe('examples/configmap-digest/deploy/', () => {
  it('is what manifests.ts synthesizes', () => {
    assertSynthesized(configMapDigestDeploy);
  });

  it('holds the ring, the grant to the sharder and the shards, under fixed names', () => {
    expect(
      objects.map(({ kind, metadata }) => `${kind} ${metadata.namespace ?? '-'}/${metadata.name}`),
    ).toEqual([
      'ControllerRing -/configmap-digest',
      'ClusterRole -/controller-rings-sharded-configmap-digest',
      'ClusterRoleBinding -/controller-rings-sharded-configmap-digest',
      'Namespace -/configmap-digest',
      'ServiceAccount configmap-digest/configmap-digest',
      'ClusterRole -/configmap-digest-shard',
      'ClusterRoleBinding -/configmap-digest-shard',
      'Role configmap-digest/configmap-digest-shard-lease',
      'RoleBinding configmap-digest/configmap-digest-shard-lease',
      'Deployment configmap-digest/configmap-digest',
    ]);
  });

  it("shards the controller's resource and its controlled resources, in labelled namespaces", () => {
    const controller = configMapDigestController();
    expect(find('ControllerRing', 'configmap-digest').spec).toEqual({
      resources: [{ ...controller.resource, controlledResources: controller.controlledResources }],
      namespaceSelector: { matchLabels: { 'controller-rings.io/configmap-digest': 'enabled' } },
      shardLeaseNamespaces: ['configmap-digest'],
    });
    expect(find('ClusterRole', 'controller-rings-sharded-configmap-digest').rules).toEqual([
      { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'patch'] },
    ]);
  });

  it('lets the shards watch, acknowledge drains and create and update Secrets everywhere, and keep Leases at home', () => {
    expect(find('ClusterRole', 'configmap-digest-shard').rules).toEqual([
      { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['create', 'update'] },
      { apiGroups: [''], resources: ['configmaps/finalizers'], verbs: ['update'] },
    ]);
    expect(find('Role', 'configmap-digest-shard-lease').rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
    const subjects = [{ kind: 'ServiceAccount', name: 'configmap-digest', namespace: 'configmap-digest' }];
    expect(find('ClusterRoleBinding', 'configmap-digest-shard')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'configmap-digest-shard' },
      subjects,
    });
    expect(find('RoleBinding', 'configmap-digest-shard-lease')).toMatchObject({
      metadata: { namespace: 'configmap-digest' },
      roleRef: { kind: 'Role', name: 'configmap-digest-shard-lease' },
      subjects,
    });
  });

  it('runs 3 shards of the example, each named after its pod, keeping its Lease in its namespace', () => {
    const { spec } = find('Deployment', 'configmap-digest');
    expect(spec?.replicas).toBe(3);
    const pod = spec?.template.spec;
    expect(pod?.serviceAccountName).toBe('configmap-digest');
    expect(pod?.containers).toEqual([
      expect.objectContaining({
        image: defaultImage,
        command: ['node', '/app/examples/configmap-digest/main.js'],
        args: expect.arrayContaining([
          '--ring=configmap-digest',
          '--name=$(POD_NAME)',
          '--namespace=$(POD_NAMESPACE)',
          '--metrics-port=8080',
        ]),
        env: [
          { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
          { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        ],
      }),
    ]);
  });
});
