// The pager requests the next page while its caller handles the current one, and aborts it when the caller
// stops early.
import { describe, expect, it } from '@jest/globals';
import { listPages, type ListPage } from './pager.ts';
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
