import { describe, expect, it } from '@jest/globals';
import type { IOwnerReference } from '@kubernetes-models/apimachinery/apis/meta/v1/OwnerReference';
import { hashKey } from './keys.ts';

function owner(apiVersion: string, kind: string, name: string, controller?: boolean): IOwnerReference {
  return { apiVersion, kind, name, uid: `uid-${name}`, ...(controller === undefined ? {} : { controller }) };
}

describe('hashKey of a ring resource object', () => {
  it.each([
    ['', 'ConfigMap', { name: 'settings', namespace: 'default' }, '/ConfigMap/default/settings'],
    ['apps', 'Deployment', { name: 'web', namespace: 'shop' }, 'apps/Deployment/shop/web'],
    [
      'rbac.authorization.k8s.io',
      'ClusterRole',
      { name: 'view' },
      'rbac.authorization.k8s.io/ClusterRole//view',
    ],
  ])('of group %j and Kind %s, %j, is %s', (group, kind, metadata, key) => {
    expect(hashKey(metadata, { controlled: false, group, kind })).toEqual({ key });
  });

  it('does not exist before the API server generated the name', () => {
    const result = hashKey(
      { generateName: 'web-', namespace: 'shop' },
      { controlled: false, group: 'apps', kind: 'Deployment' },
    );
    expect(result).toEqual({ reason: 'NoName', message: expect.stringContaining('generateName "web-"') });
  });

  it('does not exist without a name', () => {
    expect(hashKey({ namespace: 'shop' }, { controlled: false, group: 'apps', kind: 'Deployment' })).toEqual({
      reason: 'NoName',
      message: expect.stringContaining('Deployment has no name'),
    });
  });
});

describe('hashKey of a controlled resource object', () => {
  it.each([
    ['apps/v1', 'Deployment', 'apps/Deployment/shop/web'],
    ['v1', 'Service', '/Service/shop/web'],
    ['webhosting.example.com/v1alpha1', 'Website', 'webhosting.example.com/Website/shop/web'],
  ])('owned by a %s %s is %s', (apiVersion, kind, key) => {
    const metadata = {
      name: 'web-abc',
      namespace: 'shop',
      ownerReferences: [owner(apiVersion, kind, 'web', true)],
    };
    expect(hashKey(metadata, { controlled: true })).toEqual({ key });
  });

  it('is its owner key, so both land on the same shard', () => {
    const deployment = { name: 'web', namespace: 'shop' };
    const replicaSet = {
      name: 'web-6d4cf56db6',
      namespace: 'shop',
      ownerReferences: [owner('apps/v1', 'Deployment', 'web', true)],
    };
    expect(hashKey(replicaSet, { controlled: true })).toEqual(
      hashKey(deployment, { controlled: false, group: 'apps', kind: 'Deployment' }),
    );
  });

  it('comes from the controller among several owners', () => {
    const metadata = {
      name: 'web-abc',
      namespace: 'shop',
      ownerReferences: [
        owner('v1', 'ConfigMap', 'other', false),
        owner('apps/v1', 'ReplicaSet', 'web', true),
      ],
    };
    expect(hashKey(metadata, { controlled: true })).toEqual({ key: 'apps/ReplicaSet/shop/web' });
  });

  it('needs no name of its own: pods of a ReplicaSet are created with generateName', () => {
    const metadata = {
      generateName: 'web-',
      namespace: 'shop',
      ownerReferences: [owner('apps/v1', 'ReplicaSet', 'web', true)],
    };
    expect(hashKey(metadata, { controlled: true })).toEqual({ key: 'apps/ReplicaSet/shop/web' });
  });

  it.each([
    ['no owner references', undefined],
    [
      'owners that are not its controller',
      [owner('apps/v1', 'Deployment', 'web'), owner('v1', 'Service', 'web', false)],
    ],
  ])('does not exist with %s', (_, ownerReferences) => {
    const metadata = { name: 'web-abc', namespace: 'shop', ...(ownerReferences ? { ownerReferences } : {}) };
    expect(hashKey(metadata, { controlled: true })).toEqual({
      reason: 'NoControllerReference',
      message: expect.stringContaining('controller: true'),
    });
  });
});
