// The Sharder construct: least-privilege RBAC, a Deployment whose flags the sharder program accepts and whose
// ports, probes, mounts and Services agree, hardened pods, and names that never change.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import type { IClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import type { IRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import type { IRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IService } from 'kubernetes-models/v1/Service';
import { parseConfig, type SharderConfig } from '../cmd/sharder/config.ts';
import { Sharder, type SharderProps } from './sharder.ts';

interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}

function synth(props: Partial<SharderProps> = {}): KubeObject[] {
  const chart = new Chart(new App(), 'test');
  new Sharder(chart, 'sharder', { image: 'example.com/controller-rings:test', ...props });
  return chart.toJson() as KubeObject[];
}

interface Kinds {
  Deployment: IDeployment;
  ClusterRole: IClusterRole;
  ClusterRoleBinding: IClusterRoleBinding;
  Role: IRole;
  RoleBinding: IRoleBinding;
  Service: IService;
  Namespace: KubeObject;
  Certificate: KubeObject;
  Issuer: KubeObject;
  PodDisruptionBudget: KubeObject;
}

function find<K extends keyof Kinds>(objects: KubeObject[], kind: K, name: string): Kinds[K] {
  const object = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (object === undefined) throw new Error(`no ${kind} ${name} among ${objects.length} objects`);
  return object as unknown as Kinds[K];
}

function container(objects: KubeObject[]): IContainer {
  const deployment = find(objects, 'Deployment', 'controller-rings-sharder');
  const [first] = deployment.spec?.template.spec?.containers ?? [];
  if (first === undefined) throw new Error('the Deployment has no container');
  return first;
}

/** The container's arguments as the sharder would read them in a pod of `namespace`. */
function sharderConfig(objects: KubeObject[], namespace: string): SharderConfig {
  const args = (container(objects).args ?? []).map((arg) =>
    arg.replaceAll('$(POD_NAMESPACE)', namespace).replaceAll('$(POD_NAME)', 'sharder-abc'),
  );
  const config = parseConfig(args, {});
  if (config === 'help') throw new Error('the arguments ask for help');
  return config;
}

const serviceAccount = { kind: 'ServiceAccount', name: 'controller-rings-sharder' };

describe('Sharder', () => {
  it('defines its objects under fixed names', () => {
    const names = synth().map(({ kind, metadata }) => `${kind} ${metadata.namespace ?? ''}/${metadata.name}`);
    expect(names.sort()).toEqual(
      [
        'Namespace /controller-rings-system',
        'ServiceAccount controller-rings-system/controller-rings-sharder',
        'ClusterRole /controller-rings-sharder',
        'ClusterRoleBinding /controller-rings-sharder',
        'Role controller-rings-system/controller-rings-sharder-leader-election',
        'RoleBinding controller-rings-system/controller-rings-sharder-leader-election',
        'Role controller-rings-system/controller-rings-sharder-webhook-certificates',
        'RoleBinding controller-rings-system/controller-rings-sharder-webhook-certificates',
        'Role default/controller-rings-sharder-events',
        'RoleBinding default/controller-rings-sharder-events',
        'Deployment controller-rings-system/controller-rings-sharder',
        'Service controller-rings-system/controller-rings-sharder-webhook',
        'Service controller-rings-system/controller-rings-sharder-metrics',
        'PodDisruptionBudget controller-rings-system/controller-rings-sharder',
        'ValidatingAdmissionPolicy /controller-rings-sharder-leases',
        'ValidatingAdmissionPolicyBinding /controller-rings-sharder-leases',
        'ValidatingAdmissionPolicy /controller-rings-sharder-webhook-configurations',
        'ValidatingAdmissionPolicyBinding /controller-rings-sharder-webhook-configurations',
        'ValidatingAdmissionPolicy /controller-rings-sharder-ring-resources',
        'ValidatingAdmissionPolicy /controller-rings-sharder-shard-lease-namespaces',
        'ValidatingAdmissionPolicyBinding /controller-rings-sharder-ring-resources',
        'ValidatingAdmissionPolicyBinding /controller-rings-sharder-shard-lease-namespaces',
      ].sort(),
    );
  });

  it('may do exactly what the sharder does cluster-wide, and nothing on sharded resources', () => {
    const objects = synth();
    expect(find(objects, 'ClusterRole', 'controller-rings-sharder').rules).toEqual([
      {
        apiGroups: ['sharding.controller-rings.io'],
        resources: ['controllerrings'],
        verbs: ['get', 'list', 'watch', 'patch', 'update'],
      },
      {
        apiGroups: ['sharding.controller-rings.io'],
        resources: ['controllerrings/status'],
        verbs: ['patch', 'update'],
      },
      {
        apiGroups: ['sharding.controller-rings.io'],
        resources: ['controllerrings/finalizers'],
        verbs: ['update'],
      },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        verbs: ['get', 'list', 'watch', 'update', 'patch', 'delete'],
      },
      {
        apiGroups: ['admissionregistration.k8s.io'],
        resources: ['mutatingwebhookconfigurations'],
        verbs: ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
      },
      { apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list', 'watch'] },
      { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'], verbs: ['create'] },
    ]);
    expect(find(objects, 'ClusterRoleBinding', 'controller-rings-sharder')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'controller-rings-sharder' },
      subjects: [{ ...serviceAccount, namespace: 'controller-rings-system' }],
    });
    expect(objects.filter((object) => object.kind === 'ClusterRole')).toHaveLength(1);
  });

  it('creates Leases only in its own namespace, and writes only its own leader Lease there', () => {
    const objects = synth();
    const role = find(objects, 'Role', 'controller-rings-sharder-leader-election');
    expect(role.metadata?.namespace).toBe('controller-rings-system');
    expect(role.rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      {
        apiGroups: ['coordination.k8s.io'],
        resources: ['leases'],
        resourceNames: ['controller-rings-sharder'],
        verbs: ['get', 'update', 'patch'],
      },
    ]);
    expect(sharderConfig(objects, 'controller-rings-system').leaderElection.leaseName).toBe(
      'controller-rings-sharder',
    );
  });

  it("creates and patches events.k8s.io Events in default only, where the rings' Events are", () => {
    const role = find(synth(), 'Role', 'controller-rings-sharder-events');
    expect(role.metadata?.namespace).toBe('default');
    expect(role.rules).toEqual([
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
    ]);
  });

  it('runs replicas whose flags the sharder accepts, reached through the webhook Service', () => {
    const objects = synth();
    expect(sharderConfig(objects, 'controller-rings-system')).toMatchObject({
      namespace: 'controller-rings-system',
      identity: 'sharder-abc',
      leaderElection: { enabled: true },
      webhook: {
        address: { port: 9443 },
        certificates: { secret: { name: 'controller-rings-sharder-webhook-certificates' } },
        clientConfig: {
          service: {
            namespace: 'controller-rings-system',
            name: 'controller-rings-sharder-webhook',
            port: 443,
          },
        },
      },
      healthProbeAddress: { port: 8081 },
      metricsAddress: { port: 8080 },
    });
    const sharder = container(objects);
    expect(sharder.env).toEqual([
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --max-old-space-size=307' },
      { name: 'MALLOC_ARENA_MAX', value: '2' },
      { name: 'MALLOC_MMAP_THRESHOLD_', value: '16384' },
      { name: 'MALLOC_TRIM_THRESHOLD_', value: '1048576' },
    ]);
    const deployment = find(objects, 'Deployment', 'controller-rings-sharder');
    expect(deployment.spec?.replicas).toBe(2);
    expect(deployment.spec?.template.spec?.serviceAccountName).toBe('controller-rings-sharder');
  });

  it('manages its webhook certificates in a Secret of its namespace by default: no cert-manager, no mount', () => {
    const objects = synth();
    expect(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/'))).toEqual([]);
    const deployment = find(objects, 'Deployment', 'controller-rings-sharder');
    expect(deployment.spec?.template.spec?.volumes).toBeUndefined();
    expect(container(objects).volumeMounts).toBeUndefined();
    const role = find(objects, 'Role', 'controller-rings-sharder-webhook-certificates');
    expect(role.metadata?.namespace).toBe('controller-rings-system');
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
      {
        apiGroups: [''],
        resources: ['secrets'],
        resourceNames: ['controller-rings-sharder-webhook-certificates'],
        verbs: ['get', 'list', 'watch', 'update'],
      },
    ]);
    const named = synth({ webhookCertificate: { managedBy: 'sharder', secretName: 'webhook-tls' } });
    expect(sharderConfig(named, 'controller-rings-system').webhook.certificates).toMatchObject({
      secret: { name: 'webhook-tls' },
    });
    expect(
      find(named, 'Role', 'controller-rings-sharder-webhook-certificates').rules?.[1]?.resourceNames,
    ).toEqual(['webhook-tls']);
    expect(() => synth({ args: ['--webhook-certificate-secret=other'] })).toThrow(
      '--webhook-certificate-secret is set by the construct',
    );
  });

  it('takes the validities of the certificates it manages as args', () => {
    const objects = synth({ args: ['--webhook-ca-validity=17520h', '--webhook-certificate-validity=720h'] });
    expect(sharderConfig(objects, 'controller-rings-system').webhook.certificates).toEqual({
      secret: {
        name: 'controller-rings-sharder-webhook-certificates',
        caValidityMs: 17_520 * 3_600_000,
        certificateValidityMs: 720 * 3_600_000,
      },
    });
    expect(() => synth({ args: ['--webhook-certificate-validity=2m'] })).toThrow(
      /Sharder args: --webhook-certificate-validity: "2m" is shorter than 225s/,
    );
  });

  it('has cert-manager issue the certificate into a Secret it mounts where the flags point, on request', () => {
    const objects = synth({ webhookCertificate: { managedBy: 'cert-manager' } });
    expect(sharderConfig(objects, 'controller-rings-system').webhook.certificates).toEqual({
      files: {
        certFile: '/etc/controller-rings/webhook/tls.crt',
        keyFile: '/etc/controller-rings/webhook/tls.key',
        caFile: '/etc/controller-rings/webhook/ca.crt',
      },
    });
    expect(
      objects.filter((o) => o.metadata.name === 'controller-rings-sharder-webhook-certificates'),
    ).toEqual([]);
    const deployment = find(objects, 'Deployment', 'controller-rings-sharder');
    expect(deployment.spec?.template.spec?.volumes).toEqual([
      {
        name: 'webhook-certificate',
        secret: { secretName: 'controller-rings-sharder-webhook-tls', defaultMode: 0o440 },
      },
    ]);
    expect(container(objects).volumeMounts).toEqual([
      { name: 'webhook-certificate', mountPath: '/etc/controller-rings/webhook', readOnly: true },
    ]);
    expect(find(objects, 'Certificate', 'controller-rings-sharder-webhook').spec).toMatchObject({
      secretName: 'controller-rings-sharder-webhook-tls',
      issuerRef: { kind: 'Issuer', name: 'controller-rings-ca' },
      dnsNames: [
        'controller-rings-sharder-webhook',
        'controller-rings-sharder-webhook.controller-rings-system',
        'controller-rings-sharder-webhook.controller-rings-system.svc',
        'controller-rings-sharder-webhook.controller-rings-system.svc.cluster.local',
      ],
    });
    expect(find(objects, 'Certificate', 'controller-rings-ca').spec).toMatchObject({
      isCA: true,
      secretName: 'controller-rings-ca',
    });
    expect(find(objects, 'Issuer', 'controller-rings-ca').spec).toEqual({
      ca: { secretName: 'controller-rings-ca' },
    });
    // The sharder reads no Secret through the API then.
    expect(objects.filter((o) => o.kind === 'Role').map((o) => o.metadata.name)).toEqual([
      'controller-rings-sharder-leader-election',
      'controller-rings-sharder-events',
    ]);
  });

  it('probes /healthz and /readyz, and its Services target the ports the sharder listens on', () => {
    const objects = synth();
    const sharder = container(objects);
    expect(sharder.ports).toEqual([
      { name: 'webhook', containerPort: 9443, protocol: 'TCP' },
      { name: 'metrics', containerPort: 8080, protocol: 'TCP' },
      { name: 'probes', containerPort: 8081, protocol: 'TCP' },
    ]);
    expect(sharder.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'probes' });
    expect(sharder.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'probes' });
    const webhook = find(objects, 'Service', 'controller-rings-sharder-webhook');
    expect(webhook.spec?.ports).toEqual([
      { name: 'https', port: 443, targetPort: 'webhook', protocol: 'TCP' },
    ]);
    const metrics = find(objects, 'Service', 'controller-rings-sharder-metrics');
    expect(metrics.spec?.ports).toEqual([
      { name: 'metrics', port: 8080, targetPort: 'metrics', protocol: 'TCP' },
    ]);
    const deployment = find(objects, 'Deployment', 'controller-rings-sharder');
    const podLabels = deployment.spec?.template.metadata?.labels ?? {};
    for (const service of [webhook, metrics]) expect(podLabels).toMatchObject(service.spec?.selector ?? {});
    expect(podLabels).toMatchObject(deployment.spec?.selector.matchLabels ?? {});
  });

  it('runs hardened pods that spread, stop gracefully and survive voluntary disruptions one at a time', () => {
    const objects = synth();
    const pod = find(objects, 'Deployment', 'controller-rings-sharder').spec?.template.spec;
    expect(pod?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      fsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const sharder = container(objects);
    expect(sharder.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(sharder.lifecycle).toEqual({ preStop: { sleep: { seconds: 5 } } });
    expect(pod?.terminationGracePeriodSeconds).toBe(30);
    expect(pod?.topologySpreadConstraints?.map((c) => c.topologyKey)).toEqual([
      'kubernetes.io/hostname',
      'topology.kubernetes.io/zone',
    ]);
    expect(find(objects, 'PodDisruptionBudget', 'controller-rings-sharder').spec).toMatchObject({
      maxUnavailable: 1,
    });
    expect(find(objects, 'Namespace', 'controller-rings-system').metadata.labels).toMatchObject({
      'pod-security.kubernetes.io/enforce': 'restricted',
    });
  });

  it('takes replicas, resources, the image and more flags from its props', () => {
    const resources = { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } };
    const objects = synth({
      image: 'registry.example/sharder:1.2.3',
      imagePullPolicy: 'Always',
      replicas: 3,
      resources,
      args: ['--sync-period=10m', '--log-level=debug'],
    });
    const deployment = find(objects, 'Deployment', 'controller-rings-sharder');
    expect(deployment.spec?.replicas).toBe(3);
    expect(container(objects)).toMatchObject({
      image: 'registry.example/sharder:1.2.3',
      imagePullPolicy: 'Always',
      resources,
    });
    expect(sharderConfig(objects, 'controller-rings-system')).toMatchObject({
      log: { level: 'debug' },
      sync: { periodMs: 600_000 },
    });
    expect(container(synth()).resources).toEqual({
      requests: { cpu: '100m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });
  });

  it("tells V8 to keep a small young generation and to collect within the container's memory limit", () => {
    expect(container(synth()).env).toContainEqual({
      name: 'NODE_OPTIONS',
      value: '--max-semi-space-size=1 --max-old-space-size=307',
    });
    const custom = synth({ resources: { limits: { memory: '2Gi' } } });
    expect(container(custom).env).toContainEqual({
      name: 'NODE_OPTIONS',
      value: '--max-semi-space-size=1 --max-old-space-size=1228',
    });
    const unlimited = synth({ resources: { requests: { memory: '1G' } } });
    expect(container(unlimited).env).toContainEqual({
      name: 'NODE_OPTIONS',
      value: '--max-semi-space-size=1',
    });
  });

  it('runs node without TurboFan on its command line (NODE_OPTIONS refuses the flag)', () => {
    expect(container(synth()).command).toEqual(['node', '--max-opt=2', '/app/cmd/sharder/main.js']);
  });

  it("starts the container's node with its command's flags and NODE_OPTIONS", () => {
    const sharder = container(synth());
    const nodeOptions = sharder.env?.find(({ name }) => name === 'NODE_OPTIONS')?.value;
    const flags = sharder.command?.slice(1, -1) ?? [];
    const started = execFileSync(process.execPath, [...flags, '-e', 'process.stdout.write("started")'], {
      env: { ...process.env, NODE_OPTIONS: nodeOptions },
      encoding: 'utf8',
    });
    expect(started).toBe('started');
  });

  it('rejects flags the sharder would reject, and flags the manifests depend on', () => {
    expect(() => synth({ args: ['--sync-period=soon'] })).toThrow(/Sharder args: --sync-period: .*soon/);
    expect(() => synth({ args: ['--no-such-flag'] })).toThrow(/Sharder args: .*no-such-flag/);
    expect(() => synth({ args: ['--metrics-bind-address=:9090'] })).toThrow(
      '--metrics-bind-address is set by the construct',
    );
    expect(() => synth({ args: ['--webhook-url', 'https://example.com'] })).toThrow(
      '--webhook-url is set by the construct',
    );
    expect(() => synth({ replicas: 0 })).toThrow('replicas must be a positive integer');
  });

  it('deploys into another namespace, with everything that names it following', () => {
    const objects = synth({ namespace: 'sharding' });
    const clusterScoped = [
      'Namespace',
      'ClusterRole',
      'ClusterRoleBinding',
      'ValidatingAdmissionPolicy',
      'ValidatingAdmissionPolicyBinding',
    ];
    // The rings' Events are in default wherever the sharder runs: rings are cluster-scoped.
    const events = 'controller-rings-sharder-events';
    for (const object of objects) {
      if (!clusterScoped.includes(object.kind) && object.metadata.name !== events) {
        expect(`${object.kind} ${object.metadata.namespace ?? ''}`).toBe(`${object.kind} sharding`);
      }
    }
    expect(find(objects, 'RoleBinding', events).subjects).toEqual([
      { ...serviceAccount, namespace: 'sharding' },
    ]);
    expect(find(objects, 'ClusterRoleBinding', 'controller-rings-sharder').subjects).toEqual([
      { ...serviceAccount, namespace: 'sharding' },
    ]);
    const withCertManager = synth({
      namespace: 'sharding',
      webhookCertificate: { managedBy: 'cert-manager' },
    });
    expect(find(withCertManager, 'Certificate', 'controller-rings-sharder-webhook').spec).toMatchObject({
      dnsNames: expect.arrayContaining(['controller-rings-sharder-webhook.sharding.svc']),
    });
    expect(sharderConfig(objects, 'sharding').webhook.clientConfig).toEqual({
      service: { namespace: 'sharding', name: 'controller-rings-sharder-webhook', port: 443 },
    });
  });

  it('mounts a certificate Secret of yours, and uses an existing namespace', () => {
    const objects = synth({
      webhookCertificate: { managedBy: 'external', secretName: 'my-webhook-tls' },
      createNamespace: false,
    });
    expect(objects.filter((o) => o.apiVersion.startsWith('cert-manager.io/'))).toEqual([]);
    expect(sharderConfig(objects, 'controller-rings-system').webhook.certificates).toHaveProperty('files');
    expect(objects.filter((o) => o.kind === 'Namespace')).toEqual([]);
    const deployment = find(objects, 'Deployment', 'controller-rings-sharder');
    expect(deployment.spec?.template.spec?.volumes?.[0]?.secret?.secretName).toBe('my-webhook-tls');
  });
});
