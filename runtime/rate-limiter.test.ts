import { describe, expect, it } from '@jest/globals';
import { ManualClock } from '../test/support/manual-clock.ts';
import { exponentialBackoff, TokenBucket } from './rate-limiter.ts';

describe('exponentialBackoff', () => {
  it('doubles the delay per failure of a key, up to the cap', () => {
    const limiter = exponentialBackoff({ baseMs: 5, maxMs: 100 });
    const delays = Array.from({ length: 7 }, () => limiter.when('a'));
    expect(delays).toEqual([5, 10, 20, 40, 80, 100, 100]);
    expect(limiter.numRequeues('a')).toBe(7);
  });

  it('counts each key on its own', () => {
    const limiter = exponentialBackoff({ baseMs: 5, maxMs: 100 });
    limiter.when('a');
    limiter.when('a');
    expect(limiter.when('b')).toBe(5);
    expect(limiter.numRequeues('a')).toBe(2);
    expect(limiter.numRequeues('b')).toBe(1);
  });

  it('starts over after forget', () => {
    const limiter = exponentialBackoff({ baseMs: 5, maxMs: 100 });
    limiter.when('a');
    limiter.when('a');
    limiter.forget('a');
    expect(limiter.numRequeues('a')).toBe(0);
    expect(limiter.when('a')).toBe(5);
  });

  it("defaults to client-go's 5 ms doubling up to 1000 s", () => {
    const limiter = exponentialBackoff();
    expect(limiter.when('a')).toBe(5);
    expect(limiter.when('a')).toBe(10);
    for (let i = 0; i < 30; i++) limiter.when('a');
    expect(limiter.when('a')).toBe(1_000_000);
  });

  it('stays at the cap after very many failures', () => {
    const limiter = exponentialBackoff({ baseMs: 5, maxMs: 100 });
    for (let i = 0; i < 2000; i++) limiter.when('a');
    expect(limiter.when('a')).toBe(100);
  });
});

describe('TokenBucket', () => {
  it('lets a burst go at once, then one request per 1/qps seconds, each waiter at its own moment', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ qps: 10, burst: 3, clock });
    const taken = Array.from({ length: 6 }, () => bucket.take());
    expect(clock.due).toEqual([100, 200, 300]);
    return Promise.all(taken.slice(0, 3)).then(() => {
      clock.advance(300);
      return Promise.all(taken);
    });
  });

  it('fills up to its burst while idle, no further', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ qps: 10, burst: 2, clock });
    void bucket.take();
    clock.advance(10_000);
    void bucket.take();
    void bucket.take();
    expect(clock.pending).toBe(0);
    void bucket.take();
    expect(clock.due.map((due) => due - clock.now())).toEqual([100]);
  });

  it('keeps the rate under a steady stream of requests', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ qps: 4, burst: 1, clock });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      void bucket.take();
      waits.push((clock.due.at(-1) ?? clock.now()) - clock.now());
      clock.advance(100);
    }
    // One token per 250 ms; a request every 100 ms waits longer and longer.
    expect(waits).toEqual([0, 150, 300, 450, 600]);
  });

  it('rejects a waiter whose signal aborts, and one already aborted at once', async () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ qps: 1, burst: 1, clock });
    await bucket.take();
    const aborter = new AbortController();
    const waiting = bucket.take(aborter.signal);
    aborter.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    expect(clock.pending).toBe(0);
    await expect(bucket.take(AbortSignal.abort(new Error('gone')))).rejects.toThrow('gone');
  });

  it('tryTake takes a token that is there and waits for none; full once idle long enough', () => {
    const clock = new ManualClock();
    const bucket = new TokenBucket({ qps: 10, burst: 3, clock });
    expect(bucket.full).toBe(true);
    expect([bucket.tryTake(), bucket.tryTake(), bucket.tryTake(), bucket.tryTake()]).toEqual([
      true,
      true,
      true,
      false,
    ]);
    expect(clock.pending).toBe(0);
    expect(bucket.full).toBe(false);
    clock.advance(99);
    expect(bucket.tryTake()).toBe(false);
    clock.advance(1);
    expect(bucket.tryTake()).toBe(true);
    clock.advance(200);
    expect(bucket.full).toBe(false);
    clock.advance(100);
    expect(bucket.full).toBe(true);
  });

  it.each([
    [0, 1],
    [-1, 1],
    [Number.NaN, 1],
    [5, 0],
    [5, 1.5],
  ])('refuses qps %p with burst %p', (qps, burst) => {
    expect(() => new TokenBucket({ qps, burst })).toThrow(RangeError);
  });
});
