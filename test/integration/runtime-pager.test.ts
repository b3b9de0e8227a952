// Paginated metadata lists against the real API server: the sync's memory is bounded by the page size only if
// the API server answers a page at a time (it ignores `limit` for resourceVersion=0, served whole from its watch
// cache), and the pages together hold every object once.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { forEachConcurrently } from '../../runtime/concurrency.ts';
import { listMetadata, type ListPage } from '../../runtime/pager.ts';
import { RestClient, type RequestSpec } from '../../runtime/rest.ts';
import { testKubeConfig } from '../support/kube.ts';

const namespace = 'runtime-pager';
const configMaps = `/api/v1/namespaces/${namespace}/configmaps`;
// The namespace holds other ConfigMaps too (kube-root-ca.crt).
const labels = { 'runtime-pager': 'listed' };
const names = Array.from({ length: 25 }, (_, i) => `object-${i}`);

/** A client that records how many items each list answer held. */
class CountingClient extends RestClient {
  readonly answers: number[] = [];

  override async request<T>(spec: RequestSpec): Promise<T> {
    const answer = await super.request<T>(spec);
    const items = (answer as ListPage<unknown> | undefined)?.items;
    if (items !== undefined) this.answers.push(items.length);
    return answer;
  }
}

const rest = new CountingClient(testKubeConfig());

beforeAll(async () => {
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: namespace } } });
  await forEachConcurrently(names, 8, async (name) => {
    await rest.request({
      method: 'POST',
      path: configMaps,
      // The annotation and the field manager's managedFields are in the API server's answer, not in the list's.
      body: { metadata: { name, labels, annotations: { note: 'left out' } } },
    });
  });
});

afterAll(async () => {
  await rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}` });
  rest.close();
});

describe('listMetadata on a real API server', () => {
  it('reads the objects a page at a time, each object once, keeping only the metadata its readers use', async () => {
    rest.answers.length = 0;
    const listed: string[] = [];
    for await (const object of listMetadata(rest, configMaps, {
      labelSelector: 'runtime-pager=listed',
      pageSize: 10,
    })) {
      // Only the metadata the lists' readers use: no uid, annotations, managedFields, creationTimestamp.
      expect(object).toEqual({
        metadata: {
          name: expect.any(String),
          namespace,
          labels,
          resourceVersion: expect.stringMatching(/^\d+$/),
        },
      });
      listed.push(object.metadata.name ?? '');
    }
    expect(listed.sort()).toEqual([...names].sort());
    expect(rest.answers).toEqual([10, 10, 5]);
  });
});
