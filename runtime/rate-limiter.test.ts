import { describe, expect, it } from '@jest/globals';
import { exponentialBackoff } from './rate-limiter.ts';

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
