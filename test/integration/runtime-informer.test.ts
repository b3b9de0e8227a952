// The informer against the real API server: what handlers see as objects come, change, stop matching the
// selector and go; metadata-only caches; paginated lists; and re-watching when the server ends a watch.
// Restarts of the API server (and the relist after 410 Gone that follows) are in runtime-informer-restart.test.ts.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Informer, type InformerEvent, type InformerOptions } from '../../runtime/informer.ts';
import { createLogger } from '../../runtime/logger.ts';
import { patchTypes, type Query, RestClient, type RequestSpec, type WatchEvent } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { testKubeConfig } from '../support/kube.ts';

const namespace = 'runtime-informer';
const rest = new RestClient(testKubeConfig());
const logger = createLogger({ level: 'silent' });

/** A RestClient that counts the requests the informer sends. */
class CountingRestClient extends RestClient {
  readonly lists: RequestSpec[] = [];
  readonly watches: Query[] = [];

  override request<T>(spec: RequestSpec): Promise<T> {
    this.lists.push(spec);
    return super.request<T>(spec);
  }

  override watch<T>(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
    options?: { accept?: string },
  ): Promise<void> {
    this.watches.push(query);
    return super.watch(path, query, onEvent, signal, options);
  }
}

const informers: Informer<IConfigMap>[] = [];

function configMapPath(ns: string, name?: string): string {
  return `/api/v1/namespaces/${ns}/configmaps${name === undefined ? '' : `/${name}`}`;
}

/** Starts an informer on configmaps in `ns` and records what its handler sees as 'type name'. */
function informerOn(
  ns: string,
  options: Partial<InformerOptions> = {},
  client: RestClient = rest,
): { informer: Informer<IConfigMap>; events: InformerEvent<IConfigMap>[]; seen: () => string[] } {
  const informer = new Informer<IConfigMap>(client, { path: configMapPath(ns), logger, ...options });
  const events: InformerEvent<IConfigMap>[] = [];
  informer.onEvent((event) => events.push(event));
  informer.start();
  informers.push(informer);
  const seen = (): string[] => events.map(({ type, object }) => `${type} ${object.metadata?.name ?? ''}`);
  return { informer, events, seen };
}

async function createNamespace(name: string): Promise<void> {
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name } } });
}

async function createConfigMap(
  ns: string,
  name: string,
  labels: Record<string, string> = {},
  data: Record<string, string> = {},
): Promise<void> {
  await rest.request({ method: 'POST', path: configMapPath(ns), body: { metadata: { name, labels }, data } });
}

async function patchConfigMap(ns: string, name: string, patch: object): Promise<void> {
  await rest.request({
    method: 'PATCH',
    path: configMapPath(ns, name),
    body: patch,
    contentType: patchTypes.merge,
  });
}

async function deleteConfigMap(ns: string, name: string): Promise<void> {
  await rest.request({ method: 'DELETE', path: configMapPath(ns, name) });
}

beforeAll(async () => {
  await Promise.all(
    ['', '-metadata', '-pages', '-rewatch'].map((suffix) => createNamespace(`${namespace}${suffix}`)),
  );
});

afterEach(async () => {
  await Promise.all(informers.splice(0).map((informer) => informer.stop()));
});

afterAll(async () => {
  await Promise.all(
    ['', '-metadata', '-pages', '-rewatch'].map((suffix) =>
      rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}${suffix}` }),
    ),
  );
  rest.close();
});

describe('Informer on a real API server', () => {
  it('sees adds, updates and deletes of the objects its label selector matches', async () => {
    await createConfigMap(namespace, 'before', { app: 'watched' });
    const { informer, events, seen } = informerOn(namespace, { labelSelector: 'app=watched' });
    await informer.waitForSync();
    expect(informer.hasSynced).toBe(true);
    expect(seen()).toEqual(['added before']);

    await createConfigMap(namespace, 'a', { app: 'watched' }, { v: '1' });
    await createConfigMap(namespace, 'other', { app: 'other' });
    await patchConfigMap(namespace, 'a', { data: { v: '2' } });
    await patchConfigMap(namespace, 'other', { metadata: { labels: { app: 'watched' } } });
    await patchConfigMap(namespace, 'before', { metadata: { labels: { app: 'other' } } });
    await deleteConfigMap(namespace, 'a');

    await eventually(() => {
      expect(seen()).toEqual([
        'added before',
        'added a',
        'updated a',
        // Starting to match arrives as an add, no longer matching as a delete.
        'added other',
        'deleted before',
        'deleted a',
      ]);
    });
    const update = events[2];
    expect(update?.previous?.data).toEqual({ v: '1' });
    expect(update?.object.data).toEqual({ v: '2' });
    expect(informer.list().map((object) => object.metadata?.name)).toEqual(['other']);
    expect(informer.get(`${namespace}/other`)?.metadata?.labels).toEqual({ app: 'watched' });
    expect(informer.get(`${namespace}/a`)).toBeUndefined();
  });

  it('caches metadata without data when metadataOnly', async () => {
    const ns = `${namespace}-metadata`;
    await createConfigMap(ns, 'listed', { app: 'meta' }, { secret: 'not for the cache' });
    const { informer, seen } = informerOn(ns, { metadataOnly: true });
    await informer.waitForSync();
    await createConfigMap(ns, 'watched', { app: 'meta' }, { secret: 'not for the cache' });
    await eventually(() => {
      expect(seen()).toEqual(['added listed', 'added watched']);
    });

    for (const name of ['listed', 'watched']) {
      const object = informer.get(`${ns}/${name}`);
      expect(object).toMatchObject({
        apiVersion: 'meta.k8s.io/v1',
        kind: 'PartialObjectMetadata',
        metadata: { name, namespace: ns, labels: { app: 'meta' } },
      });
      expect(object).not.toHaveProperty('data');
    }
  });

  it('lists page by page', async () => {
    const ns = `${namespace}-pages`;
    const names = Array.from({ length: 7 }, (_, i) => `page-${i}`);
    await Promise.all(names.map((name) => createConfigMap(ns, name)));
    const client = new CountingRestClient(testKubeConfig());
    const { informer, seen } = informerOn(ns, { pageSize: 3 }, client);
    await informer.waitForSync();

    expect(client.lists).toHaveLength(3);
    expect(client.lists.map((spec) => spec.query?.limit)).toEqual([3, 3, 3]);
    expect(client.lists[0]?.query?.continue).toBeUndefined();
    expect(client.lists[1]?.query?.continue).toEqual(expect.any(String));
    // Namespaces get a kube-root-ca.crt configmap from the controller manager.
    expect(seen().filter((event) => event.startsWith('added page-'))).toHaveLength(7);
    expect(
      informer
        .list()
        .map((object) => object.metadata?.name)
        .filter((name) => name?.startsWith('page-')),
    ).toEqual(expect.arrayContaining(names));
    client.close();
  });

  it('re-watches from where it was when the server ends a watch, without relisting', async () => {
    const ns = `${namespace}-rewatch`;
    const client = new CountingRestClient(testKubeConfig());
    // The server ends each watch after 1-2 s.
    const { informer, seen } = informerOn(
      ns,
      { watchTimeoutSeconds: 1, labelSelector: 'app=rewatch' },
      client,
    );
    await informer.waitForSync();
    await createConfigMap(ns, 'first', { app: 'rewatch' });
    await eventually(() => {
      expect(client.watches.length).toBeGreaterThanOrEqual(3);
    });
    await createConfigMap(ns, 'second', { app: 'rewatch' });
    await patchConfigMap(ns, 'first', { data: { v: '2' } });

    await eventually(() => {
      expect(seen()).toEqual(['added first', 'added second', 'updated first']);
    });
    expect(client.lists).toHaveLength(1);
    const resourceVersions = client.watches.map((query) => Number(query.resourceVersion));
    expect(resourceVersions).toEqual([...resourceVersions].sort((a, b) => a - b));
    client.close();
  });
});
