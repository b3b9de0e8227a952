import { describe, expect, it } from '@jest/globals';
import { age, formatted, table } from './printing.ts';

describe('table', () => {
  it("aligns columns as kubectl's tabwriter does: 3 spaces apart, at least 6 wide, none at a line's end", () => {
    expect(
      table(
        ['NAME', 'READY', 'AGE'],
        [
          ['a', 'True', '5s'],
          ['a-longer-name', '', '10d'],
          ['b', 'False', ''],
        ],
      ),
    ).toBe(
      [
        'NAME            READY   AGE',
        'a               True    5s',
        'a-longer-name           10d',
        'b               False',
        '',
      ].join('\n'),
    );
  });

  it('prints the header alone when there are no rows', () => {
    expect(table(['NAME', 'AGE'], [])).toBe('NAME   AGE\n');
  });
});

describe('age', () => {
  const now = new Date('2026-01-10T00:00:00Z');
  const ago = (seconds: number): string => age(new Date(now.getTime() - seconds * 1000).toISOString(), now);

  it.each([
    [0, '0s'],
    [-1, '0s'],
    [-2, '<invalid>'],
    [119, '119s'],
    [120, '2m'],
    [200, '3m20s'],
    [600, '10m'],
    [179 * 60 + 59, '179m'],
    [3 * 3600, '3h'],
    [4 * 3600 + 5 * 60, '4h5m'],
    [47 * 3600, '47h'],
    [2 * 86400 + 3 * 3600, '2d3h'],
    [8 * 86400, '8d'],
    [730 * 86400, '2y'],
    [(3 * 365 + 20) * 86400, '3y20d'],
    [9 * 365 * 86400, '9y'],
  ])('%i seconds ago is %s', (seconds, text) => {
    expect(ago(seconds)).toBe(text);
  });

  it('is <unknown> without a time', () => {
    expect(age(undefined, now)).toBe('<unknown>');
    expect(age('yesterday', now)).toBe('<unknown>');
  });
});

describe('formatted', () => {
  it('prints JSON indented by four spaces, as kubectl does, and YAML', () => {
    expect(formatted({ a: [1] }, 'json')).toBe('{\n    "a": [\n        1\n    ]\n}\n');
    expect(formatted({ a: [1] }, 'yaml')).toBe('a:\n  - 1\n');
  });
});
