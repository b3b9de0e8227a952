import { describe, expect, it } from '@jest/globals';
import { drainLabel, shardLabel } from './constants.ts';

describe('label keys', () => {
  it('put the ring name in the label key name', () => {
    expect(shardLabel('my-ring')).toBe('shard.controller-rings.io/my-ring');
    expect(drainLabel('my-ring')).toBe('drain.controller-rings.io/my-ring');
  });
});
