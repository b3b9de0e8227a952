import { describe, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import { ShardedResourceAccess, type ShardedResourceAccessProps } from './sharded-resource-access.ts';
import { Sharder } from './sharder.ts';

function synth(id: string, props: ShardedResourceAccessProps): unknown[] {
  const chart = new Chart(new App(), 'test');
  new ShardedResourceAccess(chart, id, props);
  return chart.toJson() as unknown[];
}

const labels = { 'app.kubernetes.io/part-of': 'controller-rings' };

describe('ShardedResourceAccess', () => {
  it("binds the sharder's service account to reading and patching the resources in all namespaces", () => {
    const resources = [
      { group: 'apps', resource: 'deployments' },
      { group: '', resource: 'configmaps' },
      { group: 'apps', resource: 'replicasets' },
      { group: '', resource: 'configmaps' },
    ];
    expect(synth('my-operator', { resources })).toEqual([
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'controller-rings-sharded-my-operator', labels },
        rules: [
          { apiGroups: ['apps'], resources: ['deployments', 'replicasets'], verbs: ['get', 'list', 'patch'] },
          { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'patch'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'controller-rings-sharded-my-operator', labels },
        roleRef: {
          apiGroup: 'rbac.authorization.k8s.io',
          kind: 'ClusterRole',
          name: 'controller-rings-sharded-my-operator',
        },
        subjects: [
          { kind: 'ServiceAccount', name: 'controller-rings-sharder', namespace: 'controller-rings-system' },
        ],
      },
    ]);
  });

  it('grants a Sharder of the same app, wherever it runs, under a name of yours', () => {
    const chart = new Chart(new App(), 'test');
    const sharder = new Sharder(chart, 'sharder', { image: 'example.com/sharder:1', namespace: 'sharding' });
    new ShardedResourceAccess(chart, 'widgets', {
      name: 'shards-of-widgets',
      resources: [{ group: 'example.com', resource: 'widgets' }],
      sharder,
    });
    const binding = (chart.toJson() as { kind: string; metadata: { name: string } }[]).find(
      ({ kind, metadata }) => kind === 'ClusterRoleBinding' && metadata.name === 'shards-of-widgets',
    );
    expect(binding).toMatchObject({
      roleRef: { name: 'shards-of-widgets' },
      subjects: [{ kind: 'ServiceAccount', name: 'controller-rings-sharder', namespace: 'sharding' }],
    });
  });

  it('rejects what is not a resource: wildcards, subresources, empty lists', () => {
    expect(() => synth('x', { resources: [{ group: '', resource: '*' }] })).toThrow('"*" is not a plural');
    expect(() => synth('x', { resources: [{ group: '', resource: 'pods/status' }] })).toThrow(
      'no subresources',
    );
    expect(() => synth('x', { resources: [{ group: '*', resource: 'pods' }] })).toThrow(
      '"*" is not an API group name',
    );
    expect(() => synth('x', { resources: [] })).toThrow('at least one resource');
  });
});
