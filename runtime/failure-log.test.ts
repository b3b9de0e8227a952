import { describe, expect, it } from '@jest/globals';
import type { Clock } from './clock.ts';
import { FailureLog } from './failure-log.ts';

function clockAt(): Clock & { now(): number; set(ms: number): void } {
  let now = 0;
  return {
    now: () => now,
    set(ms) {
      now = ms;
    },
    schedule: () => () => undefined,
  };
}

describe('FailureLog', () => {
  it('reports a failure at its level first, its repeats at debug, and reminds once per period', () => {
    const clock = clockAt();
    const log = new FailureLog(clock, 1000);
    const levels = [0, 200, 999, 1000, 1500, 2000].map((at) => {
      clock.set(at);
      return log.level('k', 'error');
    });
    expect(levels).toEqual(['error', 'debug', 'debug', 'error', 'debug', 'error']);
    // Another key fails on its own account.
    expect(log.level('other', 'warn')).toBe('warn');
  });

  it('reports a different failure of the key at once, and a failure after a success as a first one', () => {
    const clock = clockAt();
    const log = new FailureLog(clock, 1000);
    expect(log.level('k', 'error', 'bad CA')).toBe('error');
    expect(log.level('k', 'error', 'bad CA')).toBe('debug');
    expect(log.level('k', 'error', 'bad key')).toBe('error');
    log.succeeded('k');
    expect(log.level('k', 'error', 'bad key')).toBe('error');
  });
});
