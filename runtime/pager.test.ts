// The pager requests the next page while its caller handles the current one, and aborts it when the caller
// stops early.
import { describe, expect, it } from '@jest/globals';
import { listMetadata, listPages, type ListPage } from './pager.ts';
import type { RequestSpec, RestClient } from './rest.ts';

/** A client whose list answers wait until the test releases them; it records every request. */
function stubClient(pages: number): {
  rest: RestClient;
  requests: RequestSpec[];
  answer: () => void;
} {
  const requests: RequestSpec[] = [];
  const waiting: (() => void)[] = [];
  const rest = {
    request: (spec: RequestSpec): Promise<ListPage<number>> => {
      requests.push(spec);
      const index = requests.length;
      return new Promise((resolve, reject) => {
        spec.signal?.addEventListener('abort', () => {
          reject(new Error('aborted'));
        });
        waiting.push(() => {
          resolve({ metadata: index < pages ? { continue: `page-${index + 1}` } : {}, items: [index] });
        });
      });
    },
  } as unknown as RestClient;
  return { rest, requests, answer: () => waiting.shift()?.() };
}

/** Page `index` of 3 as the stub answers it. */
function page(index: number): ListPage<number> {
  return { metadata: index < 3 ? { continue: `page-${index + 1}` } : {}, items: [index] };
}

describe('listPages', () => {
  it('requests the next page before the caller has handled the current one', async () => {
    const { rest, requests, answer } = stubClient(3);
    const pages = listPages<number>(rest, '/things');
    const first = pages.next();
    answer();
    expect((await first).value).toEqual(page(1));
    // The caller is still on page 1: page 2 is already asked for, with page 1's continue token.
    expect(requests.map((r) => r.query?.continue)).toEqual([undefined, 'page-2']);
    const second = pages.next();
    answer();
    expect((await second).value).toEqual(page(2));
    const third = pages.next();
    answer();
    expect((await third).value).toEqual(page(3));
    expect((await pages.next()).done).toBe(true);
    expect(requests).toHaveLength(3);
  });

  it('aborts the page in flight when the caller stops early', async () => {
    const { rest, requests, answer } = stubClient(3);
    const pages = listPages<number>(rest, '/things');
    const first = pages.next();
    answer();
    await first;
    await pages.return(undefined);
    expect(requests).toHaveLength(2);
    expect(requests[1]?.signal?.aborted).toBe(true);
  });
});

describe('listMetadata', () => {
  /** A client that answers each list request with the next of `bodies`, as bytes, decoded as the request asks. */
  function bytesClient(bodies: string[]): { rest: RestClient; requests: RequestSpec[] } {
    const requests: RequestSpec[] = [];
    const rest = {
      request: (spec: RequestSpec): Promise<unknown> => {
        requests.push(spec);
        const body = Buffer.from(bodies[requests.length - 1] ?? '');
        return Promise.resolve().then(() =>
          (spec.decode ?? ((b: Buffer) => JSON.parse(b.toString()) as unknown))(body),
        );
      },
    } as unknown as RestClient;
    return { rest, requests };
  }

  const item = (name: string) => ({
    apiVersion: 'meta.k8s.io/v1',
    kind: 'PartialObjectMetadata',
    metadata: {
      name,
      generateName: 'gen-',
      namespace: 'ns',
      uid: `uid-${name}`,
      resourceVersion: `rv-${name}`,
      creationTimestamp: '2026-01-01T00:00:00Z',
      deletionTimestamp: '2026-01-02T00:00:00Z',
      labels: { ring: 'shard-0' },
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":"object"}' },
      ownerReferences: [
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'owner', uid: 'u', controller: true },
      ],
      managedFields: [
        { manager: 'kubectl', operation: 'Apply', fieldsV1: { 'f:metadata': { 'f:labels': {} } } },
      ],
    },
  });

  it('keeps of each item only the metadata its readers use, and follows the continue token', async () => {
    const { rest, requests } = bytesClient([
      JSON.stringify({
        kind: 'PartialObjectMetadataList',
        metadata: { continue: 'next', resourceVersion: '7' },
        items: [item('a')],
      }),
      JSON.stringify({ metadata: { resourceVersion: '8' }, items: [item('b'), item('c')] }),
    ]);
    const listed = [];
    for await (const object of listMetadata(rest, '/api/v1/pods')) listed.push(object);
    expect(listed).toEqual(
      ['a', 'b', 'c'].map((name) => ({
        metadata: {
          name,
          generateName: 'gen-',
          namespace: 'ns',
          resourceVersion: `rv-${name}`,
          labels: { ring: 'shard-0' },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'owner', uid: 'u', controller: true },
          ],
        },
      })),
    );
    expect(requests.map((r) => r.query?.continue)).toEqual([undefined, 'next']);
  });

  it('yields nothing for a page without items', async () => {
    const { rest } = bytesClient([JSON.stringify({ metadata: {}, items: [] })]);
    const listed = [];
    for await (const object of listMetadata(rest, '/api/v1/pods')) listed.push(object);
    expect(listed).toEqual([]);
  });

  it('fails on a page that is not JSON, naming the list', async () => {
    const { rest } = bytesClient(['{"metadata":{},"items":[{"metadata":{"name":"a"}},']);
    const listing = listMetadata(rest, '/api/v1/namespaces/ns/configmaps').next();
    await expect(listing).rejects.toThrow(
      /^the list of \/api\/v1\/namespaces\/ns\/configmaps answered a page that is not JSON: the text ends/,
    );
  });
});
