import { describe, expect, it } from '@jest/globals';
import type { ListedObject, SyncAction } from './assignment.ts';
import { syncAction } from './assignment.ts';

// Shards a and b are available (ready, expired or uncertain), d is dead.
const available = new Set(['a', 'b']);
const shard = 'shard.controller-rings.io/ring';
const drain = 'drain.controller-rings.io/ring';

describe('syncAction of a ring resource object or a controlled object', () => {
  it.each<[string, SyncAction, ListedObject['labels'], string | undefined]>([
    // [object, action, its labels, its desired shard]
    ['on its desired shard', 'ok', { [shard]: 'a' }, 'a'],
    ['without labels', 'move', undefined, 'a'],
    ['without shard label', 'move', { app: 'web' }, 'a'],
    ['with the shard label of another ring only', 'move', { 'shard.controller-rings.io/other': 'a' }, 'a'],
    ['on a dead shard', 'move', { [shard]: 'd' }, 'a'],
    ['on a dead shard, being drained', 'move', { [shard]: 'd', [drain]: 'true' }, 'a'],
    ['on another available shard', 'drain', { [shard]: 'b' }, 'a'],
    ['on another available shard, being drained', 'ok', { [shard]: 'b', [drain]: 'true' }, 'a'],
    ['on another available shard, drain label not "true"', 'drain', { [shard]: 'b', [drain]: 'false' }, 'a'],
    ['on its desired shard, being drained', 'ok', { [shard]: 'a', [drain]: 'true' }, 'a'],
    ['without shard label, no shard available', 'ok', undefined, undefined],
    ['on a dead shard, no shard available', 'ok', { [shard]: 'd' }, undefined],
  ])('%s: %s', (_, action, labels, desired) => {
    expect(syncAction('ring', available, { labels, desired })).toBe(action);
  });
});
