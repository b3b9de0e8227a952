// Which syncs are rebalances, and what their Events say: a periodic sync that changes nothing records none.
import { describe, expect, it } from '@jest/globals';
import type { ControllerRing } from '../../api/v1alpha1/index.ts';
import type { EventRecord } from '../../runtime/events.ts';
import { RingEvents } from '../ring-events.ts';
import { RebalanceEvents } from './rebalance-events.ts';
import type { SyncReport } from './reconciler.ts';

function recorded(): { events: EventRecord[]; observer: RebalanceEvents } {
  const events: EventRecord[] = [];
  const ring = { metadata: { name: 'ring-a', uid: 'uid-a' }, spec: { resources: [] } } as ControllerRing;
  const ringEvents = new RingEvents({ record: (event) => events.push(event) }, (name) =>
    name === 'ring-a' ? ring : undefined,
  );
  return { events, observer: new RebalanceEvents(ringEvents) };
}

function report(fields: Partial<SyncReport>): SyncReport {
  return {
    ring: 'ring-a',
    shards: ['a', 'b'],
    previousShards: ['a', 'b'],
    examined: 100,
    moved: 0,
    drained: 0,
    unassigned: 0,
    unresolved: 0,
    unresolvedChains: [],
    generation: 1,
    pending: 0,
    seconds: 0.25,
    ...fields,
  };
}

function sync(observer: RebalanceEvents, fields: Partial<SyncReport>): void {
  const done = report(fields);
  observer.started(done.ring, done.shards, done.previousShards);
  observer.finished(done);
}

describe('RebalanceEvents', () => {
  it('records nothing for a sync with the same shards that moved and drained nothing', () => {
    const { events, observer } = recorded();
    sync(observer, {});
    sync(observer, { previousShards: undefined });
    expect(events).toEqual([]);
  });

  it('records the start and the end of a sync onto other shards, with its counts', () => {
    const { events, observer } = recorded();
    sync(observer, { shards: ['a', 'b', 'c'], drained: 33 });
    expect(events.map(({ type, reason, note }) => ({ type, reason, note }))).toEqual([
      {
        type: 'Normal',
        reason: 'RebalanceStarted',
        note: "available shards changed from a, b to a, b, c: assigning the ring's objects",
      },
      {
        type: 'Normal',
        reason: 'RebalanceFinished',
        note: 'rebalanced onto shards a, b, c: moved 0 and drained 33 of 100 objects in 0.3 s, 0 left unassigned, 0 to look at again',
      },
    ]);
    expect(events[0]?.regarding).toEqual({
      apiVersion: 'sharding.controller-rings.io/v1alpha1',
      kind: 'ControllerRing',
      name: 'ring-a',
      uid: 'uid-a',
    });
  });

  it('names the objects whose chain of controllers could not be followed, when there are any', () => {
    const { events, observer } = recorded();
    sync(observer, { shards: ['a', 'b', 'c'], drained: 3, unresolved: 2 });
    expect(events[1]?.note).toBe(
      'rebalanced onto shards a, b, c: moved 0 and drained 3 of 100 objects in 0.3 s, 0 left unassigned, 2 whose chain of controllers could not be followed, 0 to look at again',
    );
  });

  it('records the end of a sync that moved objects though its previous shards are unknown', () => {
    const { events, observer } = recorded();
    sync(observer, { previousShards: undefined, moved: 5 });
    expect(events.map((event) => event.reason)).toEqual(['RebalanceFinished']);
  });

  it('records a rebalance that failed part way as a warning', () => {
    const { events, observer } = recorded();
    sync(observer, { shards: [], moved: 2, error: new Error('forbidden') });
    expect(events.map(({ type, reason }) => [type, reason])).toEqual([
      ['Normal', 'RebalanceStarted'],
      ['Warning', 'RebalanceFailed'],
    ]);
    expect(events[1]?.note).toMatch(/onto shards none failed .*: forbidden$/);
  });
});
