import { describe, expect, it } from '@jest/globals';
import { containsFields } from './contains.ts';

describe('containsFields', () => {
  it.each([
    ['equal scalars', 1, 1, true],
    ['different scalars', 1, 2, false],
    ['extra fields in actual', { a: 1, b: 2 }, { a: 1 }, true],
    ['a missing field', { a: 1 }, { a: 1, b: 2 }, false],
    ['nested difference', { a: { b: [1, { c: 'x', d: 'y' }] } }, { a: { b: [1, { c: 'z' }] } }, false],
    ['nested subset', { a: { b: [1, { c: 'x', d: 'y' }] } }, { a: { b: [1, { c: 'x' }] } }, true],
    ['arrays of other length', [1, 2, 3], [1, 2], false],
    ['an object where an array is desired', { 0: 1 }, [1], false],
    ['undefined desired fields are ignored', { a: 1 }, { a: 1, b: undefined }, true],
    ['null against an object', null, { a: 1 }, false],
  ])('%s', (_, actual, desired, expected) => {
    expect(containsFields(actual, desired)).toBe(expected);
  });
});
