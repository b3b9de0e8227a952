// The library's object type is structural: client-node's objects (V1ObjectMeta with Date timestamps, classes)
// and kubernetes-models' fit it, and so does an author's type extending client-node's KubernetesObject. The
// check is the type checker's (`npx tsc --noEmit` compiles this file); the test runs what it declares.
import { describe, expect, it } from '@jest/globals';
import { V1ConfigMap, V1ObjectMeta, type KubernetesObject } from '@kubernetes/client-node';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { KubeObject, ShardedController } from './shard.ts';

interface Website extends KubernetesObject {
  spec?: { theme?: string };
}

const websites: ShardedController<Website> = {
  name: 'websites',
  resource: { group: 'example.com', resource: 'websites' },
  reconcile: async (website) => {
    await Promise.resolve(website.spec?.theme);
  },
};

describe('KubeObject', () => {
  it("accepts client-node's and kubernetes-models' objects", () => {
    const metadata = (name: string): V1ObjectMeta =>
      Object.assign(new V1ObjectMeta(), { name, creationTimestamp: new Date() });
    const fromClientNode = Object.assign(new V1ConfigMap(), { metadata: metadata('a') });
    const fromModels: IConfigMap = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'b' } };
    const website: Website = { metadata: metadata('c'), spec: { theme: 'dark' } };
    const objects: KubeObject[] = [fromClientNode, fromModels, website];
    expect(objects.map((object) => object.metadata?.name)).toEqual(['a', 'b', 'c']);
    expect(websites.name).toBe('websites');
  });
});
