import { describe, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { ControllerRing, type ControllerRingProps } from './controller-ring.ts';
import { ShardDeployment } from './shard-deployment.ts';
import { Sharder } from './sharder.ts';

interface Synthesized {
  kind: string;
  metadata: { name: string };
  spec?: Record<string, unknown>;
  rules?: unknown[];
  subjects?: unknown[];
}

function chart(): Chart {
  return new Chart(new App(), 'test');
}

function synth(scope: Chart): Synthesized[] {
  return scope.toJson() as Synthesized[];
}

function ringSpec(scope: Chart): Record<string, unknown> | undefined {
  return synth(scope).find(({ kind }) => kind === 'ControllerRing')?.spec;
}

const widgets: ControllerRingProps = {
  resources: [
    {
      group: 'example.com',
      resource: 'widgets',
      controlledResources: [{ resource: 'configmaps' }, { group: 'apps', resource: 'deployments' }],
    },
    { group: '', resource: 'secrets' },
  ],
  namespaceSelector: { matchLabels: { 'example.com/sharded': 'true' } },
};

function shards(scope: Chart, ring: ControllerRing, namespace: string): ShardDeployment {
  return new ShardDeployment(scope, namespace, { ring, namespace, image: 'widgets:v1' });
}

describe('ControllerRing', () => {
  it('defines the ring from the API types, named after its id, and grants the sharder its resources', () => {
    const scope = chart();
    const ring = new ControllerRing(scope, 'widgets', { ...widgets, labels: { team: 'a' } });
    expect(ring.name).toBe('widgets');
    expect(ring.groupResources).toEqual([
      { group: 'example.com', resource: 'widgets' },
      { group: '', resource: 'configmaps' },
      { group: 'apps', resource: 'deployments' },
      { group: '', resource: 'secrets' },
    ]);
    expect(synth(scope)).toEqual([
      {
        apiVersion: 'sharding.controller-rings.io/v1alpha1',
        kind: 'ControllerRing',
        metadata: { name: 'widgets', labels: { team: 'a' } },
        // No shard Lease namespace without shards: the API's default applies.
        spec: widgets,
      },
      expect.objectContaining({
        kind: 'ClusterRole',
        metadata: expect.objectContaining({ name: 'controller-rings-sharded-widgets' }),
        rules: [
          { apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get', 'list', 'patch'] },
          { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'patch'] },
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'patch'] },
        ],
      }),
      expect.objectContaining({
        kind: 'ClusterRoleBinding',
        subjects: [
          { kind: 'ServiceAccount', name: 'controller-rings-sharder', namespace: 'controller-rings-system' },
        ],
      }),
    ]);
  });

  it("passes assignment: Watch on, and grants the sharder watch on the ring's resources for it", () => {
    const scope = chart();
    new ControllerRing(scope, 'widgets', { ...widgets, assignment: 'Watch' });
    const objects = synth(scope);
    expect(ringSpec(scope)).toEqual({ ...widgets, assignment: 'Watch' });
    expect(objects.find(({ kind }) => kind === 'ClusterRole')?.rules).toEqual([
      { apiGroups: ['example.com'], resources: ['widgets'], verbs: ['get', 'list', 'patch', 'watch'] },
      { apiGroups: [''], resources: ['configmaps', 'secrets'], verbs: ['get', 'list', 'patch', 'watch'] },
      { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'patch', 'watch'] },
    ]);
  });

  it('passes a chain of controllers through and grants the sharder every level, which it reads up the chain', () => {
    const scope = chart();
    const resources: ControllerRingProps['resources'] = [
      {
        group: 'apps',
        resource: 'deployments',
        controlledResources: [
          { group: 'apps', resource: 'replicasets' },
          { resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
        ],
      },
    ];
    const ring = new ControllerRing(scope, 'web', { resources });
    expect(ringSpec(scope)).toEqual({ resources });
    expect(ring.groupResources).toEqual([
      { group: 'apps', resource: 'deployments' },
      { group: 'apps', resource: 'replicasets' },
      { group: '', resource: 'pods' },
    ]);
  });

  it('takes its name from the props, and grants the given sharder or none', () => {
    const scope = chart();
    const sharder = new Sharder(scope, 'sharder', { image: 'sharder:v1', namespace: 'sharding' });
    new ControllerRing(scope, 'first', { ...widgets, name: 'widgets', sharder });
    new ControllerRing(scope, 'second', { ...widgets, name: 'gadgets', sharder: false });
    const objects = synth(scope);
    expect(
      objects.filter(({ kind }) => kind === 'ControllerRing').map(({ metadata }) => metadata.name),
    ).toEqual(['widgets', 'gadgets']);
    expect(objects.filter(({ metadata }) => metadata.name.startsWith('controller-rings-sharded-'))).toEqual([
      expect.objectContaining({
        kind: 'ClusterRole',
        metadata: expect.objectContaining({ name: 'controller-rings-sharded-widgets' }),
      }),
      expect.objectContaining({
        kind: 'ClusterRoleBinding',
        subjects: [{ kind: 'ServiceAccount', name: 'controller-rings-sharder', namespace: 'sharding' }],
      }),
    ]);
  });

  it('trusts the namespaces its shards run in, also those of shards defined after it, each once', () => {
    const scope = chart();
    const ring = new ControllerRing(scope, 'widgets', widgets);
    shards(scope, ring, 'widgets-a');
    shards(scope, ring, 'widgets-b');
    new ShardDeployment(scope, 'more', {
      ring,
      namespace: 'widgets-a',
      createNamespace: false,
      image: 'w:v1',
    });
    expect(ringSpec(scope)).toEqual({ ...widgets, shardLeaseNamespaces: ['widgets-a', 'widgets-b'] });
  });

  it('keeps the shardLeaseNamespaces given, and refuses shards in a namespace they leave out', () => {
    const scope = chart();
    const ring = new ControllerRing(scope, 'widgets', {
      ...widgets,
      shardLeaseNamespaces: ['shards', 'more'],
    });
    shards(scope, ring, 'more');
    expect(ringSpec(scope)).toEqual({ ...widgets, shardLeaseNamespaces: ['shards', 'more'] });
    expect(() => shards(scope, ring, 'elsewhere')).toThrow(
      'ControllerRing widgets: its shardLeaseNamespaces [shards, more] leave out elsewhere',
    );
  });

  it('passes spec.canary through: a share of the objects for the shards of a new version', () => {
    const scope = chart();
    const canary = { shardSelector: { matchLabels: { 'app.kubernetes.io/version': 'v2' } }, percent: 10 };
    new ControllerRing(scope, 'widgets', { ...widgets, canary });
    expect(ringSpec(scope)?.canary).toEqual(canary);
  });

  it('grants a group/resource named twice once', () => {
    const scope = chart();
    const ring = new ControllerRing(scope, 'widgets', {
      resources: [
        { group: '', resource: 'configmaps', controlledResources: [{ group: '', resource: 'secrets' }] },
        { resource: 'secrets' },
      ],
    });
    expect(ring.groupResources).toEqual([
      { group: '', resource: 'configmaps' },
      { group: '', resource: 'secrets' },
    ]);
  });
});
