import { describe, expect, it } from '@jest/globals';
import { matchesSelector } from './label-selector.ts';

describe('matchesSelector', () => {
  const labels = { team: 'a', env: 'dev' };

  it.each([
    ['an empty selector', {}, true],
    ['matching matchLabels', { matchLabels: { team: 'a' } }, true],
    ['other matchLabels', { matchLabels: { team: 'b' } }, false],
    ['matchLabels for an absent key', { matchLabels: { owner: 'x' } }, false],
    [
      'In with the value',
      { matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['dev', 'qa'] }] },
      true,
    ],
    [
      'In without the value',
      { matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['prod'] }] },
      false,
    ],
    [
      'In on an absent key',
      { matchExpressions: [{ key: 'x', operator: 'In' as const, values: [''] }] },
      false,
    ],
    [
      'NotIn with the value',
      { matchExpressions: [{ key: 'env', operator: 'NotIn' as const, values: ['dev'] }] },
      false,
    ],
    [
      'NotIn on an absent key',
      { matchExpressions: [{ key: 'x', operator: 'NotIn' as const, values: ['a'] }] },
      true,
    ],
    ['Exists', { matchExpressions: [{ key: 'team', operator: 'Exists' as const }] }, true],
    ['Exists on an absent key', { matchExpressions: [{ key: 'x', operator: 'Exists' as const }] }, false],
    ['DoesNotExist', { matchExpressions: [{ key: 'team', operator: 'DoesNotExist' as const }] }, false],
    [
      'DoesNotExist on an absent key',
      { matchExpressions: [{ key: 'x', operator: 'DoesNotExist' as const }] },
      true,
    ],
    [
      'all requirements together (AND)',
      {
        matchLabels: { team: 'a' },
        matchExpressions: [{ key: 'env', operator: 'In' as const, values: ['prod'] }],
      },
      false,
    ],
  ])('%s', (_, selector, expected) => {
    expect(matchesSelector(selector, labels)).toBe(expected);
  });

  it('treats missing labels as no labels', () => {
    expect(matchesSelector({ matchExpressions: [{ key: 'x', operator: 'DoesNotExist' }] }, undefined)).toBe(
      true,
    );
    expect(matchesSelector({ matchLabels: { x: 'y' } }, undefined)).toBe(false);
  });
});
