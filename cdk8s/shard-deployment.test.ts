import { describe, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import { ControllerRing } from './controller-ring.ts';
import { ShardDeployment, type ShardDeploymentProps } from './shard-deployment.ts';

interface Synthesized {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function synth(props: Omit<ShardDeploymentProps, 'ring'>): Synthesized[] {
  const chart = new Chart(new App(), 'test');
  const ring = new ControllerRing(chart, 'widgets', {
    resources: [
      {
        group: 'example.com',
        resource: 'widgets',
        controlledResources: [{ group: '', resource: 'configmaps' }],
      },
      { group: 'example.com', resource: 'gadgets' },
    ],
    sharder: false,
  });
  new ShardDeployment(chart, 'shards', { ring, ...props });
  return (chart.toJson() as Synthesized[]).filter(({ kind }) => kind !== 'ControllerRing');
}

function find(objects: Synthesized[], kind: string): Synthesized {
  const object = objects.find((candidate) => candidate.kind === kind);
  if (object === undefined) throw new Error(`no ${kind}`);
  return object;
}

function pod(objects: Synthesized[]) {
  return (find(objects, 'Deployment') as unknown as IDeployment).spec?.template.spec;
}

const minimal = { namespace: 'widgets', image: 'registry.example.com/widgets:v1' };

describe('ShardDeployment', () => {
  it("defines the shards' namespace, service account, RBAC and Deployment, named after the ring", () => {
    const objects = synth(minimal);
    expect(
      objects.map(({ kind, metadata }) => `${kind} ${metadata.namespace ?? '-'}/${metadata.name}`),
    ).toEqual([
      'Namespace -/widgets',
      'ServiceAccount widgets/widgets',
      'ClusterRole -/widgets-shard',
      'ClusterRoleBinding -/widgets-shard',
      'Role widgets/widgets-shard-lease',
      'RoleBinding widgets/widgets-shard-lease',
      'Deployment widgets/widgets',
    ]);
    expect(find(objects, 'Namespace').metadata.labels).toEqual({
      'app.kubernetes.io/name': 'widgets',
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
    expect(synth({ ...minimal, createNamespace: false }).map(({ kind }) => kind)).not.toContain('Namespace');
  });

  it("lets the shards keep their Leases at home, and cache and release the ring's objects everywhere", () => {
    const objects = synth({
      ...minimal,
      permissions: [
        { group: '', resource: 'configmaps', verbs: ['create', 'update'] },
        { group: 'example.com', resource: 'widgets/status', verbs: ['patch'] },
      ],
    });
    expect(find(objects, 'Role').rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
    ]);
    expect(find(objects, 'ClusterRole').rules).toEqual([
      {
        apiGroups: ['example.com'],
        resources: ['widgets', 'gadgets'],
        verbs: ['get', 'list', 'watch', 'patch'],
      },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'patch'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['create', 'update'] },
      { apiGroups: ['example.com'], resources: ['widgets/status'], verbs: ['patch'] },
    ]);
    const subjects = [{ kind: 'ServiceAccount', name: 'widgets', namespace: 'widgets' }];
    expect(find(objects, 'RoleBinding')).toMatchObject({
      roleRef: { kind: 'Role', name: 'widgets-shard-lease' },
      subjects,
    });
    expect(find(objects, 'ClusterRoleBinding')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'widgets-shard' },
      subjects,
    });
  });

  it('runs the shards under the restricted profile, each knowing its pod name and namespace', () => {
    const objects = synth({
      ...minimal,
      args: ['--name=$(POD_NAME)'],
      env: [{ name: 'LOG_LEVEL', value: 'debug' }],
    });
    const deployment = find(objects, 'Deployment') as unknown as IDeployment;
    expect(deployment.spec).toMatchObject({
      replicas: 3,
      selector: { matchLabels: { 'app.kubernetes.io/name': 'widgets' } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
    });
    expect(pod(objects)).toEqual({
      serviceAccountName: 'widgets',
      securityContext: {
        runAsNonRoot: true,
        runAsUser: 65532,
        runAsGroup: 65532,
        fsGroup: 65532,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      terminationGracePeriodSeconds: 30,
      containers: [
        {
          name: 'shard',
          image: 'registry.example.com/widgets:v1',
          args: ['--name=$(POD_NAME)'],
          env: [
            { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
            { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
            { name: 'LOG_LEVEL', value: 'debug' },
          ],
          resources: { requests: { cpu: '50m', memory: '192Mi' }, limits: { memory: '384Mi' } },
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'] },
          },
        },
      ],
    });
  });

  it('probes the monitoring port, and takes its name, labels and pod settings from the props', () => {
    const objects = synth({
      ...minimal,
      name: 'widget-controller',
      labels: { team: 'a' },
      replicas: 5,
      command: ['node', 'main.js'],
      imagePullPolicy: 'IfNotPresent',
      monitoringPort: 9090,
      resources: { requests: { cpu: '1', memory: '1Gi' } },
      terminationGracePeriodSeconds: 120,
    });
    const deployment = find(objects, 'Deployment') as unknown as IDeployment;
    expect(deployment.metadata).toEqual({
      name: 'widget-controller',
      namespace: 'widgets',
      labels: { team: 'a', 'app.kubernetes.io/name': 'widget-controller' },
    });
    expect(deployment.spec?.replicas).toBe(5);
    expect(deployment.spec?.template.metadata?.labels).toEqual({
      team: 'a',
      'app.kubernetes.io/name': 'widget-controller',
    });
    expect(pod(objects)?.terminationGracePeriodSeconds).toBe(120);
    expect(pod(objects)?.containers[0]).toMatchObject({
      command: ['node', 'main.js'],
      imagePullPolicy: 'IfNotPresent',
      ports: [{ name: 'metrics', containerPort: 9090, protocol: 'TCP' }],
      livenessProbe: { httpGet: { path: '/healthz', port: 'metrics' } },
      readinessProbe: { httpGet: { path: '/readyz', port: 'metrics' } },
      resources: { requests: { cpu: '1', memory: '1Gi' } },
    });
    expect(objects.map(({ metadata }) => metadata.name)).toEqual([
      'widgets',
      'widget-controller',
      'widget-controller-shard',
      'widget-controller-shard',
      'widget-controller-shard-lease',
      'widget-controller-shard-lease',
      'widget-controller',
    ]);
  });

  it('refuses permissions it cannot express and a replica count that is not one', () => {
    expect(() =>
      synth({ ...minimal, permissions: [{ group: '', resource: 'Secrets', verbs: ['get'] }] }),
    ).toThrow('ShardDeployment permissions: "Secrets" is not a resource');
    expect(() => synth({ ...minimal, permissions: [{ group: '', resource: 'secrets', verbs: [] }] })).toThrow(
      'ShardDeployment permissions: no verbs for secrets',
    );
    expect(() => synth({ ...minimal, replicas: 1.5 })).toThrow('ShardDeployment: replicas must be');
  });
});
