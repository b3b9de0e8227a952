import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { ExpectedError } from './expected-error.ts';
import { exponentialBackoff } from './rate-limiter.ts';
import { ApiError } from './rest.ts';
import type { Clock } from './clock.ts';
import { WorkQueue, type Handler, type HandlerResult, type WorkQueueMetrics } from './workqueue.ts';

const silent = pino({ level: 'silent' });

beforeEach(() => {
  jest.useFakeTimers({ now: 0 });
});

afterEach(() => {
  jest.useRealTimers();
});

/** Lets the queue's promises run without moving the fake clock. */
async function settle(): Promise<void> {
  await jest.advanceTimersByTimeAsync(0);
}

type Outcome = HandlerResult | Error | undefined;

/** A handler whose calls stay in flight until the test finishes them; it counts overlapping calls of a key. */
function gatedHandler() {
  const calls: string[] = [];
  const running = new Map<string, (outcome: Outcome) => void>();
  let maxRunning = 0;
  let overlaps = 0;
  const handler: Handler = async (key) => {
    if (running.has(key)) overlaps++;
    calls.push(key);
    const { promise, resolve } = Promise.withResolvers<Outcome>();
    running.set(key, resolve);
    maxRunning = Math.max(maxRunning, running.size);
    const outcome = await promise;
    running.delete(key);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  };
  function finish(key: string, outcome?: Outcome): void {
    const resolve = running.get(key);
    if (!resolve) throw new Error(`${key} is not in flight`);
    resolve(outcome);
  }
  return { handler, calls, finish, maxRunning: () => maxRunning, overlaps: () => overlaps };
}

describe('WorkQueue', () => {
  it('hands out a key once however often it was added before being taken', async () => {
    const queue = new WorkQueue();
    const calls: string[] = [];
    for (const key of ['a', 'b', 'a', 'a', 'b']) queue.add(key);
    queue.run(
      (key) => {
        calls.push(key);
        return Promise.resolve(undefined);
      },
      { concurrency: 4, logger: silent },
    );
    await settle();
    expect(calls).toEqual(['a', 'b']);
    await queue.shutDown();
  });

  it('never calls the handler inside add()', async () => {
    const queue = new WorkQueue();
    const gate = gatedHandler();
    queue.run(gate.handler, { logger: silent });
    queue.add('a');
    expect(gate.calls).toEqual([]);
    await settle();
    expect(gate.calls).toEqual(['a']);
    gate.finish('a');
    await queue.shutDown();
  });

  it('handles a key added while processing once more afterwards, never concurrently', async () => {
    const queue = new WorkQueue();
    const gate = gatedHandler();
    queue.run(gate.handler, { concurrency: 4, logger: silent });
    queue.add('a');
    await settle();
    queue.add('a');
    queue.add('a');
    await settle();
    expect(gate.calls).toEqual(['a']);

    gate.finish('a');
    await settle();
    expect(gate.calls).toEqual(['a', 'a']);
    gate.finish('a');
    await settle();
    expect(gate.calls).toEqual(['a', 'a']);
    expect(gate.overlaps()).toBe(0);
    await queue.shutDown();
  });

  it('runs at most `concurrency` handlers at once', async () => {
    const queue = new WorkQueue();
    const gate = gatedHandler();
    queue.run(gate.handler, { concurrency: 2, logger: silent });
    for (const key of ['a', 'b', 'c', 'd']) queue.add(key);
    await settle();
    expect(gate.calls).toEqual(['a', 'b']);

    gate.finish('b');
    await settle();
    expect(gate.calls).toEqual(['a', 'b', 'c']);
    for (const key of ['a', 'c', 'd']) {
      gate.finish(key);
      await settle();
    }
    expect(gate.calls).toEqual(['a', 'b', 'c', 'd']);
    expect(gate.maxRunning()).toBe(2);
    await queue.shutDown();
  });

  it('rejects a second run and a concurrency below 1', () => {
    const queue = new WorkQueue();
    expect(() => {
      queue.run(gatedHandler().handler, { concurrency: 0, logger: silent });
    }).toThrow(RangeError);
    queue.run(gatedHandler().handler, { logger: silent });
    expect(() => {
      queue.run(gatedHandler().handler, { logger: silent });
    }).toThrow('called twice');
  });

  it('keeps the earliest of two delays for one key and adds at once without delay', async () => {
    const queue = new WorkQueue();
    const calls: [string, number][] = [];
    queue.run(
      (key) => {
        calls.push([key, Date.now()]);
        return Promise.resolve(undefined);
      },
      { concurrency: 4, logger: silent },
    );
    queue.addAfter('a', 100);
    queue.addAfter('a', 50);
    queue.addAfter('b', 50);
    queue.addAfter('b', 100);
    queue.addAfter('c', 0);
    await settle();
    expect(calls).toEqual([['c', 0]]);

    await jest.advanceTimersByTimeAsync(49);
    expect(calls).toHaveLength(1);
    await jest.advanceTimersByTimeAsync(1);
    expect(calls).toEqual([
      ['c', 0],
      ['a', 50],
      ['b', 50],
    ]);
    expect(jest.getTimerCount()).toBe(0);
    await queue.shutDown();
  });

  it("honours the handler's requeueAfter", async () => {
    const queue = new WorkQueue();
    const calls: number[] = [];
    const results: HandlerResult[] = [{ requeueAfter: 1000 }, { requeueAfter: 0 }];
    queue.run(
      () => {
        calls.push(Date.now());
        return Promise.resolve(results.shift());
      },
      { logger: silent },
    );
    queue.add('a');
    await jest.advanceTimersByTimeAsync(999);
    expect(calls).toEqual([0]);
    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([0, 1000, 1000]);
    await queue.shutDown();
  });

  it('retries a failing key with growing backoff, logs its first failure at error and resets on success', async () => {
    const lines: unknown[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const queue = new WorkQueue({ rateLimiter: exponentialBackoff({ baseMs: 10, maxMs: 1000 }) });
    const calls: number[] = [];
    let failures = 3;
    queue.run(
      async (key) => {
        calls.push(Date.now());
        await Promise.resolve();
        if (failures-- > 0) throw new Error(`cannot handle ${key}`);
      },
      { logger },
    );
    queue.add('a');
    await jest.advanceTimersByTimeAsync(35);
    expect(calls).toEqual([0, 10, 30]);
    expect(queue.numRequeues('a')).toBe(3);

    await jest.advanceTimersByTimeAsync(10_000);
    expect(calls).toEqual([0, 10, 30, 70]);
    expect(queue.numRequeues('a')).toBe(0);
    // The retries are at debug: a key retried with backoff does not repeat its error at every retry.
    expect(lines).toMatchObject([
      { level: 50, key: 'a', retries: 0, err: { message: 'cannot handle a' } },
      { level: 20, key: 'a', retries: 1 },
      { level: 20, key: 'a', retries: 2 },
    ]);

    // After a success, a failure is a first one again.
    failures = 1;
    queue.add('a');
    await jest.advanceTimersByTimeAsync(10);
    expect(lines).toHaveLength(4);
    expect(lines[3]).toMatchObject({ level: 50, key: 'a', retries: 0 });
    await queue.shutDown();
  });

  it('logs a key that keeps failing at error again once per reminder period', async () => {
    const levels: number[] = [];
    const logger = pino(
      { level: 'debug' },
      {
        write: (line: string) => levels.push((JSON.parse(line) as { level: number }).level),
      },
    );
    const queue = new WorkQueue({
      rateLimiter: exponentialBackoff({ baseMs: 1000, maxMs: 1000 }),
      failureReminderMs: 5000,
    });
    queue.run(() => Promise.reject<undefined>(new Error('still broken')), { logger });
    queue.add('a');
    // Failures at 0, 1, ..., 11 s: at error at 0, 5 and 10 s.
    await jest.advanceTimersByTimeAsync(11_500);
    expect(levels).toEqual([50, 20, 20, 20, 20, 50, 20, 20, 20, 20, 50, 20]);
    await queue.shutDown();
  });

  it('logs an ExpectedError at debug and a transient failure at warn, and retries both with backoff', async () => {
    const lines: unknown[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const queue = new WorkQueue({ rateLimiter: exponentialBackoff({ baseMs: 10, maxMs: 1000 }) });
    const outcomes = new Map<string, Error[]>([
      ['expected', [new ExpectedError('the object changed'), new ExpectedError('the object changed')]],
      ['transient', [new ApiError(503, 'the server is shutting down', { reason: 'ServiceUnavailable' })]],
    ]);
    const calls: string[] = [];
    queue.run(
      (key) => {
        calls.push(key);
        const error = outcomes.get(key)?.shift();
        return error === undefined ? Promise.resolve(undefined) : Promise.reject<undefined>(error);
      },
      { concurrency: 2, logger },
    );
    queue.add('expected');
    queue.add('transient');
    await jest.advanceTimersByTimeAsync(100);
    expect(calls.filter((key) => key === 'expected')).toHaveLength(3);
    expect(calls.filter((key) => key === 'transient')).toHaveLength(2);
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: 20, key: 'expected', retries: 0 }),
        expect.objectContaining({ level: 20, key: 'expected', retries: 1 }),
        expect.objectContaining({ level: 40, key: 'transient', err: expect.objectContaining({ code: 503 }) }),
      ]),
    );
    expect(lines).toHaveLength(3);
    await queue.shutDown();
  });

  it('retries a handler that throws before returning a promise', async () => {
    const queue = new WorkQueue();
    let calls = 0;
    queue.run(
      () => {
        if (++calls === 1) throw new Error('synchronous');
        return Promise.resolve(undefined);
      },
      { logger: silent },
    );
    queue.add('a');
    await jest.advanceTimersByTimeAsync(5);
    expect(calls).toBe(2);
    await queue.shutDown();
  });

  it('shuts down after the handlers in flight, dropping due and delayed keys without leaving timers', async () => {
    const queue = new WorkQueue();
    const gate = gatedHandler();
    queue.run(gate.handler, { concurrency: 2, logger: silent });
    for (const key of ['a', 'b', 'c']) queue.add(key);
    queue.addAfter('d', 1000);
    await settle();
    queue.add('a');
    expect(gate.calls).toEqual(['a', 'b']);
    expect(jest.getTimerCount()).toBe(1);

    let drained = false;
    const shutDown = queue.shutDown().then(() => {
      drained = true;
    });
    expect(jest.getTimerCount()).toBe(0);
    queue.add('e');
    queue.addAfter('f', 10);
    queue.addRateLimited('g');
    await settle();
    expect(drained).toBe(false);

    // What the handlers ask for while the queue shuts down is dropped as well.
    gate.finish('a', new Error('failed during shutdown'));
    await settle();
    expect(drained).toBe(false);
    gate.finish('b', { requeueAfter: 10 });
    await shutDown;
    expect(jest.getTimerCount()).toBe(0);

    await jest.advanceTimersByTimeAsync(10_000);
    expect(gate.calls).toEqual(['a', 'b']);
  });

  it('takes its time and timers from the clock it is given', async () => {
    const scheduled: { ms: number; fire: () => void }[] = [];
    let cancelled = 0;
    const clock: Clock = {
      now: () => 0,
      schedule(fire, ms) {
        scheduled.push({ ms, fire });
        return () => cancelled++;
      },
    };
    const queue = new WorkQueue({ clock });
    const gate = gatedHandler();
    queue.run(gate.handler, { logger: silent });
    queue.addAfter('a', 30);
    queue.addAfter('b', 40);
    expect(scheduled.map(({ ms }) => ms)).toEqual([30, 40]);
    expect(jest.getTimerCount()).toBe(0);

    scheduled[0]?.fire();
    await settle();
    expect(gate.calls).toEqual(['a']);
    const shutDown = queue.shutDown();
    expect(cancelled).toBe(1);
    gate.finish('a');
    await shutDown;
  });

  it('reports to the metrics hooks and measures unfinished work', async () => {
    const seen = {
      adds: 0,
      retries: 0,
      depth: [] as number[],
      queued: [] as number[],
      worked: [] as number[],
    };
    const metrics: WorkQueueMetrics = {
      add: () => seen.adds++,
      depth: (keys) => seen.depth.push(keys),
      queueDuration: (seconds) => seen.queued.push(seconds),
      workDuration: (seconds) => seen.worked.push(seconds),
      retry: () => seen.retries++,
    };
    const queue = new WorkQueue({ metrics });
    const gate = gatedHandler();
    queue.run(gate.handler, { concurrency: 2, logger: silent });
    queue.add('a');
    await jest.advanceTimersByTimeAsync(1000);
    queue.add('b');
    queue.add('c');
    queue.add('c');
    await jest.advanceTimersByTimeAsync(2000);
    expect(queue.unfinishedWork()).toEqual({ seconds: 5, longestSeconds: 3 });

    gate.finish('a');
    await settle();
    queue.addAfter('d', 10);
    expect(seen).toEqual({
      adds: 3,
      retries: 1,
      depth: [1, 0, 1, 0, 1, 0],
      queued: [0, 0, 2],
      worked: [3],
    });
    gate.finish('b');
    gate.finish('c');
    await queue.shutDown();
    expect(queue.unfinishedWork()).toEqual({ seconds: 0, longestSeconds: 0 });
  });
});
