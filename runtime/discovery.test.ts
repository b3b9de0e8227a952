// Caching and refreshing against a scripted API; what the real API server answers is checked in
// test/integration/runtime-discovery.test.ts.
import { describe, expect, it } from '@jest/globals';
import { collectionPath, Discovery, objectPath, type ResourceInfo } from './discovery.ts';
import type { RequestSpec, RestClient } from './rest.ts';

const deployments: ResourceInfo = {
  group: 'apps',
  version: 'v1',
  resource: 'deployments',
  kind: 'Deployment',
  namespaced: true,
  verbs: ['get', 'list'],
};

describe('collectionPath', () => {
  it('puts the core group under /api and the others under /apis', () => {
    const configMaps = { ...deployments, group: '', resource: 'configmaps', kind: 'ConfigMap' };
    expect(collectionPath(configMaps)).toBe('/api/v1/configmaps');
    expect(collectionPath(configMaps, 'x')).toBe('/api/v1/namespaces/x/configmaps');
    expect(collectionPath(deployments)).toBe('/apis/apps/v1/deployments');
    expect(collectionPath(deployments, 'x')).toBe('/apis/apps/v1/namespaces/x/deployments');
  });

  it('refuses a namespace for a cluster-scoped resource', () => {
    const nodes = { ...deployments, group: '', resource: 'nodes', kind: 'Node', namespaced: false };
    expect(() => collectionPath(nodes, 'x')).toThrow('nodes is cluster-scoped, not in a namespace');
  });
});

describe('objectPath', () => {
  it("names the object in its namespace's collection, and leaves a cluster-scoped one's namespace out", () => {
    const nodes = { ...deployments, group: '', resource: 'nodes', kind: 'Node', namespaced: false };
    expect(objectPath(deployments, 'x', 'web')).toBe('/apis/apps/v1/namespaces/x/deployments/web');
    expect(objectPath(nodes, 'x', 'node-1')).toBe('/api/v1/nodes/node-1');
  });
});

/** Serves group `example.com` at v2 (preferred) with `widgets`, and `gadgets` once `installed` is set. */
class FakeApi {
  readonly paths: string[] = [];
  installed = false;

  request(spec: RequestSpec): Promise<unknown> {
    this.paths.push(spec.path);
    if (spec.path === '/apis') {
      return Promise.resolve({
        groups: [
          {
            name: 'example.com',
            versions: [],
            preferredVersion: { groupVersion: 'example.com/v2', version: 'v2' },
          },
        ],
      });
    }
    const resources = [
      { name: 'widgets', kind: 'Widget', namespaced: true, verbs: ['get'], singularName: 'widget' },
      { name: 'widgets/status', kind: 'Widget', namespaced: true, verbs: ['get'], singularName: '' },
    ];
    if (this.installed) {
      resources.push({
        name: 'gadgets',
        kind: 'Gadget',
        namespaced: false,
        verbs: ['list'],
        singularName: 'gadget',
      });
    }
    return Promise.resolve({ groupVersion: 'example.com/v2', resources });
  }
}

function discovery(api: FakeApi, clock: { ms: number }): Discovery {
  return new Discovery(api as unknown as RestClient, { minRefreshIntervalMs: 3_000, now: () => clock.ms });
}

describe('Discovery', () => {
  it('resolves at the preferred version, ignoring subresources', async () => {
    const api = new FakeApi();
    const resolver = discovery(api, { ms: 0 });
    expect(await resolver.resolve('example.com', 'widgets')).toEqual({
      group: 'example.com',
      version: 'v2',
      resource: 'widgets',
      kind: 'Widget',
      namespaced: true,
      verbs: ['get'],
    });
    expect(await resolver.resolve('example.com', 'widgets/status')).toBeUndefined();
    expect(await resolver.resolve('other.io', 'things')).toBeUndefined();
  });

  it('caches hits, and refreshes on a miss at most once per interval', async () => {
    const api = new FakeApi();
    const clock = { ms: 0 };
    const resolver = discovery(api, clock);
    await Promise.all([
      resolver.resolve('example.com', 'widgets'),
      resolver.resolve('example.com', 'gadgets'),
    ]);
    expect(api.paths).toEqual(['/apis', '/apis/example.com/v2']);

    api.installed = true;
    clock.ms = 2_999;
    expect(await resolver.resolve('example.com', 'gadgets')).toBeUndefined();
    expect(await resolver.resolve('example.com', 'widgets')).toBeDefined();
    expect(api.paths).toHaveLength(2);

    clock.ms = 3_000;
    expect(await resolver.resolve('example.com', 'gadgets')).toMatchObject({
      kind: 'Gadget',
      namespaced: false,
    });
    expect(api.paths).toHaveLength(4);
  });
});
