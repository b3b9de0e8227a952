import { describe, expect, it } from '@jest/globals';
import { parseVariant } from './variant.ts';

describe('parseVariant', () => {
  it('splits a variant into its checkout, node flags and environment variables', () => {
    expect(
      parseVariant('trim=main,--max-semi-space-size=4,MALLOC_TRIM_THRESHOLD_=131072,--max-opt=2'),
    ).toEqual({
      label: 'trim',
      ref: 'main',
      nodeArgs: ['--max-semi-space-size=4', '--max-opt=2'],
      env: { MALLOC_TRIM_THRESHOLD_: '131072' },
    });
  });

  it('takes this checkout without settings by default', () => {
    expect(parseVariant('now')).toEqual({ label: 'now', ref: '.', nodeArgs: [], env: {} });
  });

  it('rejects a setting that is neither a flag nor NAME=value, and a variant without a label', () => {
    expect(() => parseVariant('x=.,max-opt')).toThrow(/neither a node flag nor NAME=value/);
    expect(() => parseVariant('=.')).toThrow(/expected label=ref/);
  });
});
