import { describe, expect, it } from '@jest/globals';
import { forEachConcurrently } from './concurrency.ts';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => undefined;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('forEachConcurrently', () => {
  it('runs every item with at most `limit` at once', async () => {
    let running = 0;
    let most = 0;
    const done: number[] = [];
    await forEachConcurrently([1, 2, 3, 4, 5, 6, 7], 3, async (item) => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      done.push(item);
      running--;
    });
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(3);
  });

  it('reads an async generator only as fast as items are handled', async () => {
    let pulled = 0;
    const gates = [deferred(), deferred(), deferred()];
    async function* items(): AsyncGenerator<number> {
      for (let i = 0; i < 3; i++) {
        pulled++;
        yield await Promise.resolve(i);
      }
    }
    const all = forEachConcurrently(items(), 1, (i) => gates[i]?.promise ?? Promise.resolve());
    await new Promise((resolve) => setImmediate(resolve));
    expect(pulled).toBe(1);
    for (const gate of gates) gate.resolve();
    await all;
    expect(pulled).toBe(3);
  });

  it('rejects with the first error and starts no new items after it', async () => {
    const started: number[] = [];
    await expect(
      forEachConcurrently([1, 2, 3, 4], 1, (item) => {
        started.push(item);
        return item === 2 ? Promise.reject(new Error('boom')) : Promise.resolve();
      }),
    ).rejects.toThrow('boom');
    expect(started).toEqual([1, 2]);
  });
});
