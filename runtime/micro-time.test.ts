import { describe, expect, it } from '@jest/globals';
import { microTime } from './micro-time.ts';

describe('microTime', () => {
  it('writes six fractional digits in UTC', () => {
    expect(microTime(new Date('2026-11-26T10:00:00.123Z'))).toBe('2026-11-26T10:00:00.123000Z');
    expect(microTime(new Date('2026-11-26T11:00:00+01:00'))).toBe('2026-11-26T10:00:00.000000Z');
  });

  it('reads back as the same instant', () => {
    const date = new Date('2026-11-26T10:00:00.987Z');
    expect(new Date(microTime(date)).getTime()).toBe(date.getTime());
  });
});
