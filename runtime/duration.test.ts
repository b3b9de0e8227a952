import { describe, expect, it } from '@jest/globals';
import { parseDuration } from './duration.ts';

describe('parseDuration', () => {
  it.each([
    ['300ms', 300],
    ['15s', 15_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['1.1s', 1100],
    ['0.4ms', 0],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', '15', 's', '-1s', '1d', '1s ', '5 m'])('rejects %p with the expected format', (text) => {
    expect(() => parseDuration(text)).toThrow(/use a number with a unit/);
  });
});
