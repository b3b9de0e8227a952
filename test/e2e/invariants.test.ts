import { describe, expect, it } from '@jest/globals';
import type {
  CheckOptions,
  FencingOptions,
  History,
  LabelObservation,
  LevelObservation,
  ReconcileRecord,
  SharderEvent,
  ShardEvent,
  WriteRecord,
} from './invariants.ts';
import { checkInvariants, formatSummary, pairReconcileEvents, summarize } from './invariants.ts';

const t0 = Date.parse('2026-11-26T10:00:00.000Z');
const at = (ms: number) => t0 + ms;
const cm = 'ring-a/cm-1';

const options: CheckOptions = {
  assignmentBoundMs: 1_000,
  reconcileBoundMs: 2_000,
  failoverBoundMs: 35_000,
  end: at(60_000),
};

function life(shard: string, start: number, ...deaths: [ShardEvent['type'], number][]): ShardEvent[] {
  return [
    { shard, time: at(start), type: 'started' },
    { shard, time: at(start + 10), type: 'ready' },
    ...deaths.map(([type, time]) => ({ shard, time: at(time), type })),
  ];
}

function reconcile(shard: string, start: number, end?: number, object = cm): ReconcileRecord {
  return end === undefined
    ? { object, shard, start: at(start) }
    : { object, shard, start: at(start), end: at(end) };
}

function label(time: number, shard: string | undefined, drain = false, object = cm): LabelObservation {
  return { object, time: at(time), shard, drain };
}

const twoShards = [...life('shard-a', -1_000), ...life('shard-b', -1_000)];

function history(partial: Partial<History>): History {
  return { reconciles: [], labels: [], shards: twoShards, ...partial };
}

function rules(input: History, opts: CheckOptions = options) {
  return checkInvariants(input, opts).map((violation) => violation.rule);
}

// cm-1 created on shard-a, drained to shard-b at 10 s: the protocol's happy path.
const drainedHandover = history({
  objects: [{ object: cm, created: at(0) }],
  labels: [label(5, 'shard-a'), label(10_000, 'shard-a', true), label(10_020, 'shard-b')],
  reconciles: [
    reconcile('shard-a', 10, 40),
    reconcile('shard-a', 5_000, 5_030),
    reconcile('shard-b', 10_030, 10_060),
  ],
});

describe('a history that keeps every invariant', () => {
  it('has no violations', () => {
    expect(checkInvariants(drainedHandover, options)).toEqual([]);
  });
});

describe('invariant 2: no overlapping reconciles of one object by two shards', () => {
  it('finds an overlap of a few milliseconds, naming the object, shards and times', () => {
    const violations = checkInvariants(
      history({
        labels: [label(0, 'shard-a')],
        reconciles: [reconcile('shard-a', 100, 200), reconcile('shard-b', 197, 260)],
      }),
      options,
    );
    expect(violations).toEqual([
      expect.objectContaining({ invariant: 2, rule: 'overlap', object: cm, shards: ['shard-a', 'shard-b'] }),
    ]);
    expect(violations[0]?.message).toBe(
      'ring-a/cm-1 was reconciled by shard-a (10:00:00.100–10:00:00.200) and shard-b (10:00:00.197–10:00:00.260) ' +
        'at overlapping times: 3 ms in common from 10:00:00.197',
    );
  });

  it('treats intervals as closed: an end and a start in the same millisecond overlap', () => {
    const input = history({ reconciles: [reconcile('shard-a', 100, 200), reconcile('shard-b', 200, 210)] });
    expect(rules(input)).toEqual(['overlap']);
  });

  it('allows back-to-back reconciles by different shards and overlapping ones by the same shard', () => {
    const input = history({
      reconciles: [
        reconcile('shard-a', 100, 200),
        reconcile('shard-a', 150, 160),
        reconcile('shard-b', 201, 210),
      ],
    });
    expect(rules(input)).toEqual([]);
  });

  it('lets a reconcile without end record last until its shard was killed', () => {
    const reconciles = [reconcile('shard-a', 100)];
    const shards = [...life('shard-a', -1_000, ['killed', 5_000]), ...life('shard-b', -1_000)];
    const during = checkInvariants(
      history({ shards, reconciles: [...reconciles, reconcile('shard-b', 4_000, 4_010)] }),
      options,
    );
    expect(during.map((v) => v.rule)).toEqual(['overlap']);
    expect(during[0]?.message).toContain('shard-a (10:00:00.100–10:00:05.000, no end record)');
    expect(
      rules(history({ shards, reconciles: [...reconciles, reconcile('shard-b', 5_001, 5_010)] })),
    ).toEqual([]);
  });

  it('lets a reconcile without end record of a shard still running last until the end of observation', () => {
    const input = history({ reconciles: [reconcile('shard-a', 100), reconcile('shard-b', 50_000, 50_010)] });
    expect(rules(input)).toEqual(['overlap']);
  });
});

describe('invariant 1: objects are assigned while a shard is ready, and their shard reconciles them', () => {
  it('finds an object left without shard longer than the bound', () => {
    const input = history({
      objects: [{ object: cm, created: at(0) }],
      labels: [label(3, undefined), label(1_500, 'shard-a')],
      reconciles: [reconcile('shard-a', 1_510, 1_520)],
    });
    const violations = checkInvariants(input, options);
    expect(violations).toEqual([expect.objectContaining({ invariant: 1, rule: 'assignment', object: cm })]);
    expect(violations[0]?.message).toBe(
      'ring-a/cm-1 had no shard from 10:00:00.000 until 10:00:01.500, 1500 ms of it while shard-a, shard-b ' +
        'could take it (bound 1000 ms)',
    );
  });

  it('finds an object that was never assigned, even if never observed', () => {
    const violations = checkInvariants(history({ objects: [{ object: cm, created: at(0) }] }), options);
    expect(violations.map((v) => v.rule)).toEqual(['assignment']);
    expect(violations[0]?.message).toContain('until the end of observation');
  });

  it('counts only the time while some shard was ready', () => {
    const input = history({
      shards: life('shard-a', 2_000),
      objects: [{ object: cm, created: at(0) }],
      labels: [label(2, undefined), label(2_900, 'shard-a')],
      reconciles: [reconcile('shard-a', 2_910, 2_920)],
    });
    expect(rules(input)).toEqual([]);
  });

  it('finds an object left without shard after a move', () => {
    const input = history({
      labels: [
        label(0, 'shard-a'),
        label(10_000, 'shard-a', true),
        label(10_010, undefined),
        label(12_000, 'shard-b'),
      ],
      reconciles: [reconcile('shard-a', 10, 20), reconcile('shard-b', 12_010, 12_020)],
    });
    expect(rules(input)).toEqual(['assignment']);
  });

  it('finds an object whose new shard never reconciles it after the latest assignment', () => {
    const input = history({
      labels: [
        label(0, 'shard-b'),
        label(3_000, 'shard-b', true),
        label(3_010, 'shard-a'),
        label(10_000, 'shard-a', true),
        label(10_010, 'shard-b'),
      ],
      reconciles: [reconcile('shard-b', 20, 30), reconcile('shard-a', 3_020, 3_030)],
    });
    const violations = checkInvariants(input, options);
    expect(violations).toEqual([
      expect.objectContaining({ rule: 'reconcile', object: cm, shards: ['shard-b'] }),
    ]);
    expect(violations[0]?.message).toBe(
      'ring-a/cm-1 was not reconciled by shard-b, which got it at 10:00:10.010, by 10:00:12.010 (bound 2000 ms); ' +
        'it never reconciled it after',
    );
  });

  it('finds a reconcile that starts later than the bound', () => {
    const input = history({
      labels: [label(0, 'shard-a')],
      reconciles: [reconcile('shard-a', 2_500, 2_510)],
    });
    const violations = checkInvariants(input, options);
    expect(violations.map((v) => v.rule)).toEqual(['reconcile']);
    expect(violations[0]?.message).toContain('held it when first observed at 10:00:00.000');
    expect(violations[0]?.message).toContain('its first later reconcile started at 10:00:02.500');
  });

  it('accepts a reconcile that starts within the clock tolerance before the observed assignment', () => {
    const moved = [label(0, 'shard-a'), label(5_000, 'shard-a', true), label(5_050, 'shard-b')];
    const base = [reconcile('shard-a', 10, 20)];
    const early = (start: number) =>
      history({ labels: moved, reconciles: [...base, reconcile('shard-b', start, 5_060)] });
    expect(rules(early(5_000))).toEqual([]);
    expect(rules(early(4_900))).toEqual(['reconcile']);
  });

  it('accepts a reconcile recorded before the watch first saw an assigned object', () => {
    const input = history({ labels: [label(1_000, 'shard-a')], reconciles: [reconcile('shard-a', 10, 20)] });
    expect(rules(input)).toEqual([]);
  });

  it('demands nothing of a shard asked to drain within the bound, nor of assignments not yet due', () => {
    const drained = history({
      labels: [label(0, 'shard-a'), label(1_000, 'shard-a', true), label(3_000, 'shard-b')],
      reconciles: [reconcile('shard-b', 3_010, 3_020)],
    });
    expect(rules(drained)).toEqual([]);
    const recent = history({ labels: [label(59_000, 'shard-a')] });
    expect(rules(recent)).toEqual([]);
  });
});

describe('invariant 3: the objects of a dead shard are reconciled elsewhere within the failover bound', () => {
  const killedB = [...life('shard-a', -1_000), ...life('shard-b', -1_000, ['killed', 10_000])];
  const onB = [label(0, 'shard-b')];
  const early = [reconcile('shard-b', 10, 20)];

  it('accepts a failover within the bound and reports its duration', () => {
    const input = history({
      shards: killedB,
      labels: [...onB, label(40_000, 'shard-a')],
      reconciles: [...early, reconcile('shard-a', 40_050, 40_060)],
    });
    const summary = summarize(input, options);
    expect(summary.violations).toEqual([]);
    expect(summary.failovers).toEqual([
      expect.objectContaining({ object: cm, shard: 'shard-b', cause: 'killed', outcome: 'reconciled' }),
    ]);
    expect(formatSummary('kill', summary)).toContain(
      'failover after shard killed: objects 1, max 30.1 s, 0 deleted, 0 pending at end, 0 missed',
    );
  });

  it('finds a failover slower than the bound', () => {
    const input = history({
      shards: killedB,
      labels: [...onB, label(50_000, 'shard-a')],
      reconciles: [...early, reconcile('shard-a', 50_050, 50_060)],
    });
    const violations = checkInvariants(input, options);
    expect(violations).toEqual([expect.objectContaining({ invariant: 3, rule: 'failover', object: cm })]);
    expect(violations[0]?.message).toBe(
      'ring-a/cm-1 lost its shard shard-b (killed at 10:00:10.000) and was not reconciled elsewhere by ' +
        '10:00:45.000 (bound 35000 ms); next reconcile started at 10:00:50.050',
    );
  });

  it('finds an object that stays on its killed shard', () => {
    expect(rules(history({ shards: killedB, labels: onB, reconciles: early }))).toEqual(['failover']);
  });

  it('finds an object assigned to a shard the harness never started', () => {
    const violations = checkInvariants(history({ labels: [label(0, 'shard-x')] }), options);
    expect(violations.map((v) => v.rule)).toEqual(['failover']);
    expect(violations[0]?.message).toContain('shard-x, which the harness never started');
  });

  it('finds the objects of a gracefully stopped shard that nobody takes over', () => {
    const shards = [
      ...life('shard-a', -1_000),
      ...life('shard-b', -1_000, ['stopping', 10_000], ['stopped', 10_100]),
    ];
    const summary = summarize(history({ shards, labels: onB, reconciles: early }), options);
    expect(summary.violations.map((v) => v.rule)).toEqual(['failover']);
    expect(summary.failovers[0]?.cause).toBe('stopped');
  });

  it('accepts a reconcile by a restarted process of the same shard, but not by the dead one', () => {
    const restarted = [
      ...life('shard-b', -1_000, ['stopping', 10_000], ['stopped', 10_100]),
      ...life('shard-b', 10_200),
    ];
    const shards = [...life('shard-a', -1_000), ...restarted];
    expect(
      rules(history({ shards, labels: onB, reconciles: [...early, reconcile('shard-b', 10_400, 10_410)] })),
    ).toEqual([]);
    expect(
      rules(history({ shards, labels: onB, reconciles: [...early, reconcile('shard-b', 10_050, 10_060)] })),
    ).toEqual(['failover']);
  });

  it('does not judge failovers still due at the end, nor objects deleted meanwhile', () => {
    const end = { ...options, end: at(30_000) };
    expect(summarize(history({ shards: killedB, labels: onB, reconciles: early }), end).failovers).toEqual([
      expect.objectContaining({ outcome: 'pending' }),
    ]);
    expect(rules(history({ shards: killedB, labels: onB, reconciles: early }), end)).toEqual([]);
    const deleted = [...onB, { ...label(20_000, 'shard-b'), deleted: true }];
    expect(rules(history({ shards: killedB, labels: deleted, reconciles: early }))).toEqual([]);
  });
});

describe('invariant 4: an object leaves a live shard only through a drain', () => {
  const reconciles = [reconcile('shard-a', 10, 20), reconcile('shard-b', 5_020, 5_030)];

  it('finds a direct move while the old shard is alive', () => {
    const violations = checkInvariants(
      history({ labels: [label(0, 'shard-a'), label(5_000, 'shard-b')], reconciles }),
      options,
    );
    expect(violations).toEqual([
      expect.objectContaining({ invariant: 4, rule: 'drain', object: cm, shards: ['shard-a', 'shard-b'] }),
    ]);
    expect(violations[0]?.message).toBe(
      'ring-a/cm-1 moved from shard-a to shard-b at 10:00:05.000 without a drain label while shard-a was alive ' +
        '(started 09:59:59.000, still running)',
    );
  });

  it('finds a move through no shard without drain, naming the shard it went to', () => {
    const labels = [label(0, 'shard-a'), label(5_000, undefined), label(5_010, 'shard-b')];
    const violations = checkInvariants(history({ labels, reconciles }), options);
    expect(violations.map((v) => v.rule)).toEqual(['drain']);
    expect(violations[0]?.message).toContain('from shard-a to shard-b at 10:00:05.000');
  });

  it('accepts a move through no shard after the drain label was seen', () => {
    const labels = [
      label(0, 'shard-a'),
      label(4_000, 'shard-a', true),
      label(5_000, undefined),
      label(5_010, 'shard-b'),
    ];
    const summary = summarize(history({ labels, reconciles }), options);
    expect(summary.violations).toEqual([]);
    expect(summary.moves).toEqual({ drained: 1, afterShardDeath: 0, undrainedWhileAlive: 0 });
  });

  it('accepts a move without drain after the old shard was killed, or asked to stop', () => {
    const labels = [label(0, 'shard-a'), label(5_000, 'shard-b')];
    for (const death of ['killed', 'stopping'] as const) {
      const shards = [...life('shard-a', -1_000, [death, 4_990]), ...life('shard-b', -1_000)];
      const summary = summarize(history({ shards, labels, reconciles }), options);
      expect(summary.violations).toEqual([]);
      expect(summary.moves).toEqual({ drained: 0, afterShardDeath: 1, undrainedWhileAlive: 0 });
    }
  });

  it('finds a move without drain observed just before the old shard was killed', () => {
    const shards = [...life('shard-a', -1_000, ['killed', 5_001]), ...life('shard-b', -1_000)];
    expect(
      rules(history({ shards, labels: [label(0, 'shard-a'), label(5_000, 'shard-b')], reconciles })),
    ).toEqual(['drain']);
  });
});

describe('the chain rule: a level below the root leaves a live shard only once its root was drained there', () => {
  const secret = 'ring-a/cm-1-digest';
  const level = (resource: string, time: number, shard: string | undefined): LevelObservation => ({
    ...label(time, shard, false, secret),
    resource,
    root: cm,
  });
  // cm-1 drained from shard-a at 10 s; its Secret and ServiceAccount handed over in its work item, the deepest
  // first, then cm-1 itself (drainedHandover's labels).
  const chain = [
    level('secrets', 5, 'shard-a'),
    level('serviceaccounts', 8, 'shard-a'),
    level('serviceaccounts', 10_005, 'shard-b'),
    level('secrets', 10_010, 'shard-b'),
  ];

  it('accepts levels handed over after their root was drained, and counts them', () => {
    const summary = summarize({ ...drainedHandover, levels: chain }, options);
    expect(summary.violations).toEqual([]);
    expect(summary.levelMoves).toEqual({ drained: 2, afterShardDeath: 0, undrainedWhileAlive: 0 });
    expect(summarize(drainedHandover, options).levelMoves).toBeUndefined();
    expect(formatSummary('chain', summary)).toContain(
      "\n  chain levels' moves: 2 with their root drained, 0 after their shard died, 0 without their root " +
        'drained while their shard was alive\n',
    );
    expect(formatSummary('handover', summarize(drainedHandover, options))).not.toContain('chain');
  });

  it("accepts a level whose move is observed just before its root's drain, within the clock tolerance", () => {
    const levels = [level('serviceaccounts', 8, 'shard-a'), level('serviceaccounts', 9_950, 'shard-b')];
    expect(checkInvariants({ ...drainedHandover, levels }, options)).toEqual([]);
  });

  it('finds a level that left a live shard while its root was not drained there, naming both', () => {
    const levels = [level('serviceaccounts', 8, 'shard-a'), level('serviceaccounts', 5_000, 'shard-b')];
    const violations = checkInvariants(
      history({ labels: [label(5, 'shard-a')], reconciles: [reconcile('shard-a', 10, 40)], levels }),
      options,
    );
    expect(violations).toEqual([
      expect.objectContaining({
        invariant: 4,
        rule: 'chain',
        object: `serviceaccounts ${secret}`,
        shards: ['shard-a', 'shard-b'],
        time: at(5_000),
      }),
    ]);
    expect(violations[0]?.message).toBe(
      'serviceaccounts ring-a/cm-1-digest moved from shard-a to shard-b at 10:00:05.000 while shard-a was alive, ' +
        'but its root ring-a/cm-1, on shard-a since 10:00:00.005, was not drained from it',
    );
  });

  it('finds a level that left a live shard before its root was drained there, beyond the tolerance', () => {
    const levels = [level('secrets', 5, 'shard-a'), level('secrets', 9_800, undefined)];
    const violations = checkInvariants({ ...drainedHandover, levels }, options);
    expect(violations.map((v) => v.rule)).toEqual(['chain']);
    expect(violations[0]?.message).toContain(
      'moved from shard-a to no shard at 10:00:09.800 while shard-a was alive, but its root ring-a/cm-1, on ' +
        'shard-a since 10:00:00.005, was drained from it only at 10:00:10.000',
    );
  });

  it('finds a level that left a live shard its root was never on', () => {
    const levels = [level('secrets', 5, 'shard-b'), level('secrets', 5_000, 'shard-a')];
    const violations = checkInvariants({ ...drainedHandover, levels }, options);
    expect(violations.map((v) => v.message)).toEqual([
      'secrets ring-a/cm-1-digest moved from shard-b to shard-a at 10:00:05.000 while shard-b was alive, but ' +
        'its root ring-a/cm-1 was never on shard-b before',
    ]);
  });

  it('orders by resourceVersion where the watches recorded it, whatever their delivery times say', () => {
    const versioned = <T extends { time: number }>(
      observation: T,
      version: number,
    ): T & { version: number } => ({
      ...observation,
      version,
    });
    // cm-1 on shard-a at version 10, drained at 20; its Secret handed over at version 25.
    const roots = [versioned(label(5, 'shard-a'), 10), versioned(label(10_000, 'shard-a', true), 20)];
    const reconciles = [reconcile('shard-a', 10, 40)];
    const handedOver = [
      versioned(level('secrets', 5, 'shard-a'), 11),
      // Delivered by its watch 300 ms before the root's drain was by the other: later in etcd all the same.
      versioned(level('secrets', 9_700, undefined), 25),
    ];
    expect(checkInvariants(history({ labels: roots, reconciles, levels: handedOver }), options)).toEqual([]);
    // Delivered after the root's drain, but earlier in etcd: it left before its root was drained.
    const early = [
      versioned(level('secrets', 5, 'shard-a'), 11),
      versioned(level('secrets', 10_050, undefined), 15),
    ];
    const violations = checkInvariants(history({ labels: roots, reconciles, levels: early }), options);
    expect(violations.map((v) => v.rule)).toEqual(['chain']);
  });

  it('accepts a level that left its shard after that shard died, undrained', () => {
    const shards = [...life('shard-a', -1_000, ['killed', 4_000]), ...life('shard-b', -1_000)];
    const levels = [level('secrets', 5, 'shard-a'), level('secrets', 5_000, 'shard-b')];
    const labels = [label(5, 'shard-a'), label(5_010, 'shard-b')];
    const summary = summarize(history({ shards, labels, levels }), options);
    expect(summary.violations.filter((v) => v.rule === 'chain')).toEqual([]);
    expect(summary.levelMoves).toEqual({ drained: 0, afterShardDeath: 1, undrainedWhileAlive: 0 });
  });
});

describe('faults around the shards: no bound counts API server outages, nor sharder-less time where it needs one', () => {
  const created = { objects: [{ object: cm, created: at(0) }] };
  // cm-1 is created at 0 and assigned at 5 s (bound 1 s); shard-a reconciles it at once.
  const assignedAt = (time: number) => ({
    ...created,
    labels: [label(3, undefined), label(time, 'shard-a')],
    reconciles: [reconcile('shard-a', time + 10, time + 20)],
  });
  const sharder = (replica: string, ready: number, ...deaths: [SharderEvent['type'], number][]) => [
    { replica, time: at(ready - 10), type: 'started' as const },
    { replica, time: at(ready), type: 'ready' as const },
    ...deaths.map(([type, time]) => ({ replica, time: at(time), type })),
  ];
  // Both replicas killed before cm-1 is created; one is back at 4.5 s.
  const sharderless = [
    ...sharder('sharder-0', -2_000, ['killed', -500]),
    ...sharder('sharder-1', -2_000, ['killed', -400]),
    ...sharder('sharder-2', 4_500),
  ];

  it('counts the assignment bound from the moment a sharder replica is ready again', () => {
    expect(rules(history({ ...assignedAt(5_000), sharders: sharderless }))).toEqual([]);
    const late = checkInvariants(history({ ...assignedAt(6_000), sharders: sharderless }), options);
    expect(late.map((v) => v.rule)).toEqual(['assignment']);
    expect(late[0]?.message).toContain('1500 ms of it while shard-a, shard-b could take it');
    // Without sharder lives recorded, a sharder counts as ready throughout.
    expect(rules(history(assignedAt(5_000)))).toEqual(['assignment']);
  });

  it('counts a replica from ready, not from its start, and none after its death', () => {
    // sharder-2 starts at 0, when cm-1 is created, but only serves from 4.5 s.
    const slowStart = sharderless.map((event) =>
      event.replica === 'sharder-2' && event.type === 'started' ? { ...event, time: at(0) } : event,
    );
    expect(rules(history({ ...assignedAt(5_000), sharders: slowStart }))).toEqual([]);
    const oneLeft = [...sharder('sharder-0', -2_000), ...sharder('sharder-1', -2_000, ['stopped', 100])];
    expect(rules(history({ ...assignedAt(5_000), sharders: oneLeft }))).toEqual(['assignment']);
  });

  it('does not count an API server outage towards the assignment bound', () => {
    const outages = [{ from: at(-100), to: at(4_500) }];
    expect(rules(history({ ...assignedAt(5_000), outages }))).toEqual([]);
    expect(rules(history({ ...assignedAt(6_000), outages }))).toEqual(['assignment']);
  });

  it('extends the reconcile bound by the outages within it', () => {
    // Assigned at 0 to shard-a (bound 2 s), the API server down from 0.5 s to 3.5 s.
    const reconciledAt = (start: number) =>
      history({ labels: [label(0, 'shard-a')], reconciles: [reconcile('shard-a', start, start + 10)] });
    const outages = [{ from: at(500), to: at(3_500) }];
    expect(rules({ ...reconciledAt(4_900), outages })).toEqual([]);
    expect(rules({ ...reconciledAt(5_100), outages })).toEqual(['reconcile']);
    expect(rules(reconciledAt(4_900))).toEqual(['reconcile']);
  });

  it('extends the failover bound by outages and by time without a ready sharder replica', () => {
    // shard-b killed at 10 s holding cm-1 (bound 35 s): shard-a reconciles it at 50 s, 40 s later.
    const shards = [...life('shard-a', -1_000), ...life('shard-b', -1_000, ['killed', 10_000])];
    const failover = history({
      shards,
      labels: [label(0, 'shard-b'), label(50_000, 'shard-a')],
      reconciles: [reconcile('shard-b', 10, 20), reconcile('shard-a', 50_050, 50_060)],
    });
    expect(rules(failover)).toEqual(['failover']);
    expect(rules({ ...failover, outages: [{ from: at(20_000), to: at(26_000) }] })).toEqual([]);
    const away = [...sharder('sharder-0', -2_000, ['killed', 20_000]), ...sharder('sharder-1', 26_000)];
    expect(rules({ ...failover, sharders: away })).toEqual([]);
    expect(rules({ ...failover, outages: [{ from: at(20_000), to: at(24_000) }] })).toEqual(['failover']);
  });
});

describe('invariant 7: a shard finds the controlled objects of an object that arrives', () => {
  const refused = (shard: string, start: number, end: number, reason: string): ReconcileRecord => ({
    ...reconcile(shard, start, end),
    error: `secrets "cm-1-digest" ${reason === 'AlreadyExists' ? 'already exists' : 'changed'}`,
    reason,
  });
  const failed = (shard: string, start: number, end: number): ReconcileRecord => ({
    ...reconcile(shard, start, end),
    error: 'connection reset',
  });
  // drainedHandover's reconciles on shard-a: shard-b gets the object at 10.020 s.
  const onA = drainedHandover.reconciles.filter((record) => record.shard === 'shard-a');

  it.each(['AlreadyExists', 'Conflict'])(
    'finds a write refused as %s before the new shard reconciled the object once without error',
    (reason) => {
      const input = history({
        ...drainedHandover,
        reconciles: [
          ...onA,
          failed('shard-b', 10_025, 10_028),
          refused('shard-b', 10_030, 10_040, reason),
          reconcile('shard-b', 10_100, 10_120),
        ],
      });
      const summary = summarize(input, options);
      expect(summary.violations).toEqual([
        expect.objectContaining({ invariant: 7, rule: 'arrival', object: cm, shards: ['shard-b'] }),
      ]);
      expect(summary.violations[0]?.message).toBe(
        `ring-a/cm-1: a write of shard-b's reconcile (10:00:10.030–10:00:10.040) was refused as ${reason} ` +
          `before any reconcile of it there succeeded; shard-b got it at 10:00:10.020: ` +
          (input.reconciles.at(-2)?.error ?? ''),
      );
      expect(summary.refused).toEqual({ onArrival: 1, later: 0 });
    },
  );

  it('counts, without judging, a refusal after the shard has reconciled the object once', () => {
    const input = history({
      ...drainedHandover,
      reconciles: [...drainedHandover.reconciles, refused('shard-b', 10_100, 10_110, 'Conflict')],
    });
    const summary = summarize(input, options);
    expect(summary.violations).toEqual([]);
    expect(summary.refused).toEqual({ onArrival: 0, later: 1 });
  });

  it('judges the first run of an object too, and other errors not at all', () => {
    const input = history({
      objects: [{ object: cm, created: at(0) }],
      labels: [label(5, 'shard-a')],
      reconciles: [failed('shard-a', 10, 20), refused('shard-a', 30, 40, 'AlreadyExists')],
    });
    expect(rules(input)).toEqual(['arrival']);
    expect(rules(history({ ...input, reconciles: [failed('shard-a', 10, 20)] }))).toEqual([]);
  });
});

describe('pairReconcileEvents', () => {
  it('pairs starts and ends per shard and object, and leaves a start whose process died open', () => {
    const events = [
      { object: cm, shard: 'shard-a', time: at(1), phase: 'start' as const },
      { object: 'ring-a/cm-2', shard: 'shard-a', time: at(2), phase: 'start' as const },
      { object: cm, shard: 'shard-a', time: at(3), phase: 'end' as const },
      { object: 'ring-a/cm-2', shard: 'shard-a', time: at(9), phase: 'start' as const },
      { object: 'ring-a/cm-2', shard: 'shard-a', time: at(10), phase: 'end' as const },
    ];
    expect(pairReconcileEvents(events)).toEqual([
      reconcile('shard-a', 1, 3),
      reconcile('shard-a', 2, undefined, 'ring-a/cm-2'),
      reconcile('shard-a', 9, 10, 'ring-a/cm-2'),
    ]);
  });

  it("keeps an end's error and its status reason", () => {
    const events = [
      { object: cm, shard: 'shard-a', time: at(1), phase: 'start' as const },
      {
        object: cm,
        shard: 'shard-a',
        time: at(3),
        phase: 'end' as const,
        error: 'exists',
        reason: 'AlreadyExists',
      },
    ];
    expect(pairReconcileEvents(events)).toEqual([
      { ...reconcile('shard-a', 1, 3), error: 'exists', reason: 'AlreadyExists' },
    ]);
  });

  it('rejects an end without start', () => {
    expect(() => pairReconcileEvents([{ object: cm, shard: 'shard-a', time: at(1), phase: 'end' }])).toThrow(
      'reconcile of ring-a/cm-1 by shard-a ended at 10:00:00.001 without a start',
    );
  });
});

describe('formatSummary', () => {
  it('prints objects, reconciles per shard, moves and violations', () => {
    const violating = history({
      labels: [label(0, 'shard-a'), label(5_000, 'shard-b')],
      reconciles: [reconcile('shard-a', 10, 20), reconcile('shard-b', 5_020, 5_030)],
    });
    expect(formatSummary('handover', summarize(drainedHandover, options))).toBe(
      [
        'scenario handover: objects 1, reconciles 3 (shard-a 2, shard-b 1)',
        '  moves: 1 drained, 0 undrained after their shard died, 0 undrained while their shard was alive',
        '  writes refused as AlreadyExists/Conflict: 0 on arrival, 0 later',
        '  violations: none',
      ].join('\n'),
    );
    expect(formatSummary('direct move', summarize(violating, options))).toMatch(
      /undrained while their shard was alive\n.*\n {2}violations: 1\n {4}- \[invariant 4, drain\] ring-a\/cm-1 moved from/,
    );
  });
});

describe('invariant 6: no act without a certain Lease', () => {
  const fencing: FencingOptions = {
    sharderLease: 'system/sharder',
    sharder: { renewDeadlineMs: 3_000, leaseDurationMs: 4_000 },
    shardLeaseNamespace: 'shards',
    shard: { renewDeadlineMs: 2_000, leaseDurationMs: 3_000 },
    inFlightAtPause: { writes: 2, withinMs: 1_000 },
  };
  const fenced: CheckOptions = { ...options, fencing };
  const write = (
    role: 'sharder' | 'shard',
    name: string,
    time: number,
    resource: string,
    object: string,
    verb = 'patch',
    code = 200,
  ): WriteRecord => ({ writer: { role, name }, verb, resource, object, time: at(time), code });
  const renew = (role: 'sharder' | 'shard', name: string, time: number, lease: string, code = 200) =>
    write(role, name, time, 'leases', lease, 'update', code);
  const sharderRenews = (name: string, ...times: number[]) =>
    times.map((time) => renew('sharder', name, time, 'system/sharder'));
  const drain = (name: string, time: number) => write('sharder', name, time, 'configmaps', cm);
  const fenceViolations = (input: History) =>
    checkInvariants(input, fenced).filter((violation) => violation.rule === 'fence');

  it('accepts writes within the renew deadline and the margin of the last renewal', () => {
    const writes = [
      ...sharderRenews('sharder-0', 0, 500),
      drain('sharder-0', 1_000),
      drain('sharder-0', 4_499),
    ];
    expect(fenceViolations(history({ writes }))).toEqual([]);
    expect(summarize(history({ writes }), fenced).fenced).toEqual({
      sharderWrites: 2,
      shardWrites: 0,
      reconcileStarts: 0,
      inFlightAtPause: 0,
    });
  });

  it('rejects a write after the renew deadline and the margin', () => {
    // Paused after the renewal at 500: deadline 3.5 s, margin 1 s.
    const writes = [...sharderRenews('sharder-0', 0, 500), drain('sharder-0', 4_501)];
    const violations = fenceViolations(history({ writes }));
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ invariant: 6, rule: 'fence', shards: ['sharder/sharder-0'] });
    expect(violations[0]?.message).toBe(
      'sharder/sharder-0 sent patch configmaps ring-a/cm-1 at 10:00:04.501, when its last renewal of ' +
        'system/sharder was received at 10:00:00.500: past its renew deadline (3000 ms) and the margin (1000 ms) by 1 ms',
    );
  });

  it('does not count failed renewals', () => {
    const writes = [
      ...sharderRenews('sharder-0', 0),
      renew('sharder', 'sharder-0', 3_000, 'system/sharder', 409),
      drain('sharder-0', 4_500),
    ];
    expect(fenceViolations(history({ writes }))).toHaveLength(1);
  });

  it('rejects a write after another replica took the leader Lease, even within the deadline', () => {
    const writes = [
      ...sharderRenews('sharder-0', 0),
      ...sharderRenews('sharder-1', 1_000),
      drain('sharder-1', 1_100),
      drain('sharder-0', 1_200),
    ];
    const violations = fenceViolations(history({ writes }));
    expect(violations.map((violation) => violation.message)).toEqual([
      'sharder/sharder-0 sent patch configmaps ring-a/cm-1 at 10:00:01.200, when sharder/sharder-1 held its Lease system/sharder (written at 10:00:01.000)',
    ]);
  });

  it("ignores the leader election's own Lease writes and judges the controllers' writes to shard Leases", () => {
    const writes = [
      ...sharderRenews('sharder-0', 0),
      renew('sharder', 'sharder-0', 9_000, 'system/sharder', 409),
      write('sharder', 'sharder-0', 9_000, 'leases', 'shards/shard-a', 'patch'),
    ];
    expect(fenceViolations(history({ writes })).map((violation) => violation.object)).toEqual([
      'shards/shard-a',
    ]);
  });

  it('rejects a write by a replica that never held the leader Lease', () => {
    expect(fenceViolations(history({ writes: [drain('sharder-0', 10)] }))).toHaveLength(1);
  });

  it("judges a shard's reconcile starts and writes against its own Lease, and the sharder's acquisition of it", () => {
    const shardRenews = [0, 400, 800].map((time) => renew('shard', 'shard-a', time, 'shards/shard-a'));
    const ok = history({
      writes: shardRenews,
      reconciles: [reconcile('shard-a', 3_700, 3_710)],
    });
    expect(fenceViolations(ok)).toEqual([]);
    // Paused after the renewal at 800: a reconcile start and a drain acknowledgement after 3.8 s.
    const late = history({
      writes: [...shardRenews, write('shard', 'shard-a', 3_900, 'configmaps', cm)],
      reconciles: [reconcile('shard-a', 3_850, 3_860)],
    });
    expect(fenceViolations(late).map((violation) => violation.message)).toEqual([
      expect.stringMatching(
        /^shard\/shard-a started a reconcile of ring-a\/cm-1 at 10:00:03.850, when .* by 50 ms$/,
      ),
      expect.stringMatching(
        /^shard\/shard-a sent patch configmaps ring-a\/cm-1 at 10:00:03.900, when .* by 100 ms$/,
      ),
    ]);
    const taken = history({
      writes: [
        ...shardRenews,
        ...sharderRenews('sharder-0', 500),
        renew('sharder', 'sharder-0', 1_000, 'shards/shard-a'),
      ],
      reconciles: [reconcile('shard-a', 1_500, 1_510)],
    });
    expect(fenceViolations(taken).map((violation) => violation.message)).toEqual([
      'shard/shard-a started a reconcile of ring-a/cm-1 at 10:00:01.500, when sharder/sharder-0 held its Lease shards/shard-a (written at 10:00:01.000)',
    ]);
  });

  describe('a process paused with writes in flight', () => {
    // sharder-0 paused at 1 s, sharder-1 took over at 5 s, sharder-0 resumed at 6 s.
    const sharders: SharderEvent[] = [
      { replica: 'sharder-0', time: at(0), type: 'ready' },
      { replica: 'sharder-1', time: at(0), type: 'ready' },
      { replica: 'sharder-0', time: at(1_000), type: 'paused' },
      { replica: 'sharder-0', time: at(6_000), type: 'resumed' },
    ];
    const takeover = [...sharderRenews('sharder-0', 0, 900), ...sharderRenews('sharder-1', 5_000)];
    const paused = (...drains: number[]) =>
      history({ sharders, writes: [...takeover, ...drains.map((time) => drain('sharder-0', time))] });

    it('may deliver as many writes as it can have in flight, right after its resume', () => {
      expect(fenceViolations(paused(6_010, 6_200))).toEqual([]);
      expect(summarize(paused(6_010, 6_200), fenced).fenced).toMatchObject({ inFlightAtPause: 2 });
    });

    it('delivers nothing more: a third write, or one later than right after the resume, is a violation', () => {
      expect(fenceViolations(paused(6_010, 6_020, 6_030)).map((violation) => violation.time)).toEqual([
        at(6_030),
      ]);
      expect(fenceViolations(paused(7_001)).map((violation) => violation.time)).toEqual([at(7_001)]);
    });

    it('starts no reconcile after its resume', () => {
      const shards = life('shard-a', -1_000, ['paused', 1_000], ['resumed', 6_000]);
      const renews = [0, 900].map((time) => renew('shard', 'shard-a', time, 'shards/shard-a'));
      const late = history({ shards, writes: renews, reconciles: [reconcile('shard-a', 6_010, 6_020)] });
      expect(fenceViolations(late).map((violation) => violation.object)).toEqual([cm]);
    });
  });

  it('is not judged without fencing options', () => {
    expect(summarize(history({ writes: [drain('sharder-0', 10)] }), options).fenced).toBeUndefined();
    expect(rules(history({ writes: [drain('sharder-0', 10)] }))).toEqual([]);
  });
});

describe('a paused shard', () => {
  it('counts as dead from its pause: its objects fail over, and may move without a drain', () => {
    const shards = [
      ...life('shard-a', -1_000, ['paused', 1_000], ['resumed', 9_000], ['stopped', 9_100]),
      ...life('shard-b', -1_000),
    ];
    const input = history({
      shards,
      labels: [label(0, 'shard-a'), label(7_000, 'shard-b')],
      reconciles: [reconcile('shard-a', 10, 20), reconcile('shard-b', 7_010, 7_020)],
    });
    const summary = summarize(input, options);
    expect(summary.violations).toEqual([]);
    expect(summary.moves.afterShardDeath).toBe(1);
    expect(summary.failovers).toMatchObject([{ cause: 'paused', outcome: 'reconciled', shard: 'shard-a' }]);
  });
});
