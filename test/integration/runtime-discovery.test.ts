// Discovery against the real API server: core, group and CRD resources resolve to what the server serves, with
// paths that work; unknown ones do not resolve; CRDs installed after a first lookup are found.
import { afterAll, describe, expect, it } from '@jest/globals';
import { collectionPath, Discovery } from '../../runtime/discovery.ts';
import { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { testKubeConfig } from '../support/kube.ts';

const rest = new RestClient(testKubeConfig());
const crds = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions';
const lateGroup = 'runtime-discovery.controller-rings.io';

/** A CRD of `lateGroup` that keeps any fields. */
function crd(plural: string, kind: string): object {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${lateGroup}` },
    spec: {
      group: lateGroup,
      scope: 'Namespaced',
      names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
        },
      ],
    },
  };
}

afterAll(async () => {
  await Promise.all(
    ['widgets', 'gadgets'].map((plural) =>
      rest.request({ method: 'DELETE', path: `${crds}/${plural}.${lateGroup}` }).catch(() => undefined),
    ),
  );
  rest.close();
});

describe('Discovery on a real API server', () => {
  const discovery = new Discovery(rest);

  it('resolves core, group and CRD resources', async () => {
    const configMaps = await discovery.resolve('', 'configmaps');
    expect(configMaps).toMatchObject({
      group: '',
      version: 'v1',
      resource: 'configmaps',
      kind: 'ConfigMap',
      namespaced: true,
    });
    expect(configMaps?.verbs).toEqual(expect.arrayContaining(['get', 'list', 'watch', 'patch']));
    expect(await discovery.resolve('', 'namespaces')).toMatchObject({ kind: 'Namespace', namespaced: false });
    expect(await discovery.resolve('apps', 'deployments')).toMatchObject({
      group: 'apps',
      version: 'v1',
      kind: 'Deployment',
      namespaced: true,
    });
    expect(await discovery.resolve('sharding.controller-rings.io', 'controllerrings')).toMatchObject({
      group: 'sharding.controller-rings.io',
      version: 'v1alpha1',
      kind: 'ControllerRing',
      namespaced: false,
    });
  });

  it('gives paths that the API server serves', async () => {
    for (const [group, resource, namespace] of [
      ['', 'configmaps', 'default'],
      ['coordination.k8s.io', 'leases', 'kube-system'],
      ['sharding.controller-rings.io', 'controllerrings', undefined],
    ] as const) {
      const info = await discovery.resolve(group, resource);
      if (info === undefined) throw new Error(`${resource}.${group} is not served`);
      // Right after the control plane started, a list may get 429 while the API server fills its watch cache.
      const list = await eventually(() =>
        rest.request<{ kind: string }>({ path: collectionPath(info, namespace) }),
      );
      expect(list.kind).toBe(`${info.kind}List`);
    }
  });

  it('does not resolve what the API server does not serve', async () => {
    expect(await discovery.resolve('apps', 'widgets')).toBeUndefined();
    expect(await discovery.resolve('no-such-group.example.com', 'widgets')).toBeUndefined();
    expect(await discovery.resolve('apps', 'deployments/status')).toBeUndefined();
    expect(await discovery.resolve('', 'deployments')).toBeUndefined();
  });

  it('finds CRDs installed after a first lookup, in a new group and in a known one', async () => {
    expect(await discovery.resolve(lateGroup, 'widgets')).toBeUndefined();
    await rest.request({ method: 'POST', path: crds, body: crd('widgets', 'Widget') });
    await eventually(async () => {
      expect(await discovery.resolve(lateGroup, 'widgets')).toMatchObject({ version: 'v1', kind: 'Widget' });
    });

    expect(await discovery.resolve(lateGroup, 'gadgets')).toBeUndefined();
    await rest.request({ method: 'POST', path: crds, body: crd('gadgets', 'Gadget') });
    await eventually(async () => {
      expect(await discovery.resolve(lateGroup, 'gadgets')).toMatchObject({ version: 'v1', kind: 'Gadget' });
    });
  });
});
