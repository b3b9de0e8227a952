import { describe, expect, it } from '@jest/globals';
import type { ControllerRing } from '../../api/v1alpha1/index.ts';
import {
  assignmentKey,
  assignsByWatch,
  keySource,
  parseAssignmentKey,
  resourceId,
  unassignedSelectors,
  watchedResources,
  watchSignature,
} from './watch-plan.ts';

function ring(spec: Partial<ControllerRing['spec']>, deleting = false): ControllerRing {
  return {
    apiVersion: 'sharding.controller-rings.io/v1alpha1',
    kind: 'ControllerRing',
    metadata: { name: 'r', ...(deleting ? { deletionTimestamp: '2026-12-01T00:00:00Z' } : {}) },
    spec: { resources: [{ group: '', resource: 'configmaps' }], ...spec },
  };
}

describe('the watch of unassigned objects', () => {
  it('runs only for a ring with assignment: Watch that is not being deleted', () => {
    expect(assignsByWatch(ring({ assignment: 'Watch' }))).toBe(true);
    expect(assignsByWatch(ring({ assignment: 'Webhook' }))).toBe(false);
    // The API's default, also for a ring read before the field existed.
    expect(assignsByWatch(ring({}))).toBe(false);
    expect(assignsByWatch(ring({ assignment: 'Watch' }, true))).toBe(false);
  });

  it('watches every resource of the ring once, controlled ones keyed by their controller', () => {
    const watched = watchedResources(
      ring({
        resources: [
          { group: 'apps', resource: 'deployments', controlledResources: [{ resource: 'configmaps' }] },
          { resource: 'secrets' },
        ],
      }),
    );
    expect(watched).toEqual([
      { group: 'apps', resource: 'deployments', controlled: false },
      { group: '', resource: 'configmaps', controlled: true, owners: [] },
      { group: '', resource: 'secrets', controlled: false },
    ]);
    expect(watched.map(resourceId)).toEqual(['deployments.apps', 'configmaps', 'secrets']);
    const [owner, controlled] = watched;
    if (owner === undefined || controlled === undefined) throw new Error('two resources expected');
    expect(keySource(owner, 'Deployment')).toEqual({
      controlled: false,
      group: 'apps',
      kind: 'Deployment',
    });
    expect(keySource(controlled, 'ConfigMap')).toEqual({ controlled: true });
  });

  it('keys the levels of a chain below its first by their owners up to the root', () => {
    const watched = watchedResources(
      ring({
        resources: [
          {
            group: 'apps',
            resource: 'deployments',
            controlledResources: [
              { group: 'apps', resource: 'replicasets' },
              { resource: 'pods', owner: { group: 'apps', resource: 'replicasets' } },
            ],
          },
        ],
      }),
    );
    expect(watched.map(({ resource, owners }) => [resource, owners])).toEqual([
      ['deployments', undefined],
      ['replicasets', []],
      ['pods', [{ group: 'apps', resource: 'replicasets' }]],
    ]);
    // A level's chain is part of what decides its watch.
    const [, replicaSets, pods] = watched;
    if (replicaSets === undefined || pods === undefined) throw new Error('three resources expected');
    expect(watchSignature(pods, 'v1', 'Pod')).not.toBe(watchSignature({ ...pods, owners: [] }, 'v1', 'Pod'));
  });

  it('restarts a watch when the resource changes version, kind or role', () => {
    const owner = { group: '', resource: 'configmaps', controlled: false };
    const signature = watchSignature(owner, 'v1', 'ConfigMap');
    expect(watchSignature(owner, 'v1', 'ConfigMap')).toBe(signature);
    expect(watchSignature(owner, 'v2', 'ConfigMap')).not.toBe(signature);
    expect(watchSignature({ ...owner, controlled: true }, 'v1', 'ConfigMap')).not.toBe(signature);
  });

  it('selects the objects without the shard label, outside the namespaces never sharded', () => {
    expect(unassignedSelectors('r', ['kube-system', 'sharder'])).toEqual({
      labelSelector: '!shard.controller-rings.io/r',
      fieldSelector: 'metadata.namespace!=kube-system,metadata.namespace!=sharder',
    });
    expect(unassignedSelectors('r', [])).toEqual({
      labelSelector: '!shard.controller-rings.io/r',
      fieldSelector: undefined,
    });
  });

  it('keys the work queue by ring, resource and object, and reads the key back', () => {
    for (const object of ['ns/name', 'cluster-scoped']) {
      const key = assignmentKey('r', 'deployments.apps', object);
      expect(parseAssignmentKey(key)).toEqual({ ring: 'r', resource: 'deployments.apps', object });
    }
  });
});
