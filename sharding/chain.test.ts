import { describe, expect, it } from '@jest/globals';
import type { IOwnerReference } from '@kubernetes-models/apimachinery/apis/meta/v1/OwnerReference';
import { chainKey, chainLevel, ownerChain, type ChainResource, type OwnerMetadata } from './chain.ts';
import { hashKey } from './keys.ts';

const replicaSets = { group: 'apps', resource: 'replicasets' };
const pods = { group: '', resource: 'pods' };
const configMaps = { group: '', resource: 'configmaps' };
// Deployment → ReplicaSet → Pod → ConfigMap: 3 levels below the ring resource.
const entry = {
  controlledResources: [{ ...configMaps, owner: pods }, { ...pods, owner: replicaSets }, replicaSets],
};

function controller(apiVersion: string, kind: string, name: string, uid = `uid-${name}`): IOwnerReference {
  return { apiVersion, kind, name, uid, controller: true };
}

/** A reader over `objects` by `resource/namespace/name`, recording each read. */
function reader(objects: Record<string, OwnerMetadata>) {
  const reads: string[] = [];
  const read = (owner: ChainResource, namespace: string | undefined, name: string) => {
    const path = `${owner.resource}/${namespace ?? ''}/${name}`;
    reads.push(path);
    return Promise.resolve(objects[path]);
  };
  return { read, reads };
}

const replicaSet = { uid: 'uid-web-1', ownerReferences: [controller('apps/v1', 'Deployment', 'web')] };
const pod = { uid: 'uid-web-1-a', ownerReferences: [controller('apps/v1', 'ReplicaSet', 'web-1')] };
const rootKey = 'apps/Deployment/shop/web';

describe('ownerChain', () => {
  it('lists the owners above each level, nearest first, up to the ring resource', () => {
    expect(ownerChain(entry, replicaSets)).toEqual([]);
    expect(ownerChain(entry, pods)).toEqual([replicaSets]);
    expect(ownerChain(entry, configMaps)).toEqual([pods, replicaSets]);
    expect([replicaSets, pods, configMaps].map((level) => chainLevel(entry, level))).toEqual([1, 2, 3]);
  });

  it('is undefined for a resource the entry does not list', () => {
    expect(ownerChain(entry, { group: '', resource: 'secrets' })).toBeUndefined();
  });

  it('refuses a chain deeper than 3 levels, a loop, or an unlisted owner, which the CRD rejects', () => {
    const secrets = { group: '', resource: 'secrets' };
    const deep = { controlledResources: [...entry.controlledResources, { ...secrets, owner: configMaps }] };
    expect(ownerChain(deep, secrets)).toBe('ChainTooDeep');
    const loop = {
      controlledResources: [
        { ...pods, owner: configMaps },
        { ...configMaps, owner: pods },
      ],
    };
    expect(ownerChain(loop, pods)).toBe('ChainTooDeep');
    expect(ownerChain({ controlledResources: [{ ...pods, owner: secrets }] }, pods)).toBe('ChainTooDeep');
  });
});

describe('chainKey', () => {
  it('of a first-level object is its controller’s key, read from its own reference', async () => {
    const { read, reads } = reader({});
    const metadata = { name: 'web-1', namespace: 'shop', ...replicaSet };
    await expect(chainKey(metadata, [], read)).resolves.toEqual({ key: rootKey });
    expect(hashKey(metadata, { controlled: true })).toEqual({ key: rootKey });
    expect(reads).toEqual([]);
  });

  it('of every level is the root’s key, one read per level above the first', async () => {
    const { read, reads } = reader({ 'replicasets/shop/web-1': replicaSet, 'pods/shop/web-1-a': pod });
    const podMetadata = { name: 'web-1-a', namespace: 'shop', ...pod };
    await expect(chainKey(podMetadata, [replicaSets], read)).resolves.toEqual({ key: rootKey });
    expect(reads).toEqual(['replicasets/shop/web-1']);
    reads.length = 0;
    const configMap = {
      name: 'web-1-a-env',
      namespace: 'shop',
      ownerReferences: [controller('v1', 'Pod', 'web-1-a')],
    };
    await expect(chainKey(configMap, [pods, replicaSets], read)).resolves.toEqual({ key: rootKey });
    expect(reads).toEqual(['pods/shop/web-1-a', 'replicasets/shop/web-1']);
  });

  it('has none when an owner is missing, or exists under its name with another uid', async () => {
    const podMetadata = { name: 'web-1-a', namespace: 'shop', ...pod };
    const missing = await chainKey(podMetadata, [replicaSets], reader({}).read);
    expect(missing).toEqual({
      reason: 'OwnerNotFound',
      message: expect.stringContaining('its controller ReplicaSet shop/web-1 (uid uid-web-1) does not exist'),
    });
    const recreated = { 'replicasets/shop/web-1': { ...replicaSet, uid: 'uid-other' } };
    const result = await chainKey(podMetadata, [replicaSets], reader(recreated).read);
    expect(result).toMatchObject({ reason: 'OwnerNotFound' });
  });

  it('has none when a controller is of another group than the chain declares, and reads nothing', async () => {
    const { read, reads } = reader({});
    const metadata = {
      name: 'web-1-a',
      namespace: 'shop',
      ownerReferences: [controller('batch/v1', 'Job', 'web-1')],
    };
    await expect(chainKey(metadata, [replicaSets], read)).resolves.toEqual({
      reason: 'OwnerNotInChain',
      message: expect.stringContaining('its controller Job shop/web-1 (batch/v1) is not of replicasets.apps'),
    });
    expect(reads).toEqual([]);
  });

  it('has none when a controller is of another kind of the chain owner’s group', async () => {
    // A ReplicaSet web-1 exists, but this Pod's controller is the StatefulSet web-1.
    const objects = { 'replicasets/shop/web-1': { ...replicaSet, kind: 'ReplicaSet' } };
    const metadata = {
      name: 'web-1-0',
      namespace: 'shop',
      ownerReferences: [controller('apps/v1', 'StatefulSet', 'web-1')],
    };
    await expect(chainKey(metadata, [replicaSets], reader(objects).read)).resolves.toEqual({
      reason: 'OwnerNotInChain',
      message: expect.stringContaining(
        'its controller StatefulSet shop/web-1 (apps/v1) is not of replicasets.apps',
      ),
    });
  });

  it('has none when the object or an owner on the way has no controller reference', async () => {
    const orphan = { name: 'web-1-a', namespace: 'shop', ownerReferences: [] };
    await expect(chainKey(orphan, [replicaSets], reader({}).read)).resolves.toMatchObject({
      reason: 'NoControllerReference',
    });
    const orphanOwner = { 'replicasets/shop/web-1': { uid: 'uid-web-1' } };
    const podMetadata = { name: 'web-1-a', namespace: 'shop', ...pod };
    await expect(chainKey(podMetadata, [replicaSets], reader(orphanOwner).read)).resolves.toMatchObject({
      reason: 'NoControllerReference',
    });
  });
});
