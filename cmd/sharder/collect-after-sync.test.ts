import { describe, expect, it } from '@jest/globals';
import type { SyncReport } from '../../controllers/sync/reconciler.ts';
import { collectAfterExamined, collectAfterSync } from './collect-after-sync.ts';

function report(examined: number): SyncReport {
  return {
    ring: 'ring',
    shards: ['shard-0'],
    previousShards: undefined,
    examined,
    moved: 0,
    drained: 0,
    unassigned: 0,
    unresolved: 0,
    unresolvedChains: [],
    generation: 1,
    pending: 0,
    seconds: 1,
  };
}

describe('collectAfterSync', () => {
  it('collects once after each sync that examined at least a threshold of objects, not after smaller ones', () => {
    let collections = 0;
    const observer = collectAfterSync(() => {
      collections++;
    });
    observer?.finished?.(report(collectAfterExamined - 1));
    expect(collections).toBe(0);
    observer?.finished?.(report(collectAfterExamined));
    observer?.finished?.(report(100_000));
    expect(collections).toBe(2);
  });

  it('is no observer when node exposes no collection (no --expose-gc)', () => {
    expect(collectAfterSync(undefined)).toBeUndefined();
  });
});
