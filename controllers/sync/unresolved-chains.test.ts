import { describe, expect, it } from '@jest/globals';
import type { SyncReport, UnresolvedChains } from './reconciler.ts';
import { UnresolvedChainsObserver } from './unresolved-chains.ts';

const orphans = (count: number): UnresolvedChains => ({
  resource: 'pods',
  count,
  object: 'default/orphan',
  reason: 'OwnerNotFound',
  message: 'its controller ReplicaSet default/gone (uid u) does not exist as replicasets.apps',
});

function report(ring: string, fields: Partial<SyncReport> = {}): SyncReport {
  return {
    ring,
    shards: ['a'],
    previousShards: ['a'],
    examined: 10,
    moved: 0,
    drained: 0,
    unassigned: 0,
    unresolved: 0,
    unresolvedChains: [],
    generation: 2,
    pending: 0,
    seconds: 0.1,
    ...fields,
  };
}

function observer() {
  const changed: string[] = [];
  return { changed, chains: new UnresolvedChainsObserver((ring) => changed.push(ring)) };
}

describe('the sync findings on chains of controllers', () => {
  it('knows nothing of a ring before its first complete sync', () => {
    expect(observer().chains.of('r')).toBeUndefined();
  });

  it('keeps the last complete sync’s findings per ring, and tells of each change only', () => {
    const { changed, chains } = observer();
    chains.finished(report('r', { unresolved: 3, unresolvedChains: [orphans(3)] }));
    chains.finished(report('other'));
    expect(chains.of('r')).toEqual({ generation: 2, unresolved: [orphans(3)] });
    expect(chains.of('other')).toEqual({ generation: 2, unresolved: [] });
    expect(changed).toEqual(['r', 'other']);
    // The same findings again (the periodic sync): nothing to write.
    chains.finished(report('r', { unresolved: 3, unresolvedChains: [orphans(3)] }));
    expect(changed).toEqual(['r', 'other']);
    // Another count, another generation, all resolved: each a change.
    chains.finished(report('r', { unresolved: 2, unresolvedChains: [orphans(2)] }));
    chains.finished(report('r', { unresolved: 2, unresolvedChains: [orphans(2)], generation: 3 }));
    chains.finished(report('r', { generation: 3 }));
    expect(changed).toEqual(['r', 'other', 'r', 'r', 'r']);
    expect(chains.of('r')).toEqual({ generation: 3, unresolved: [] });
  });

  it('keeps the findings of the last complete sync when one fails part way', () => {
    const { changed, chains } = observer();
    chains.finished(report('r', { unresolved: 3, unresolvedChains: [orphans(3)] }));
    chains.finished(report('r', { error: new Error('refused') }));
    expect(chains.of('r')).toEqual({ generation: 2, unresolved: [orphans(3)] });
    expect(changed).toEqual(['r']);
  });

  it('forgets a ring that is gone', () => {
    const { chains } = observer();
    chains.finished(report('r'));
    chains.forget('r');
    expect(chains.of('r')).toBeUndefined();
  });
});
