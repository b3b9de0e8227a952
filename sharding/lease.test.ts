import { describe, expect, it } from '@jest/globals';
import type { ShardLease, ShardState } from './lease.ts';
import { acquireLease, isAvailable, shardState } from './lease.ts';

const renewed = '2026-11-26T10:00:00.000000Z';
const t0 = Date.parse(renewed);
const at = (seconds: number) => new Date(t0 + seconds * 1000);

function lease(spec: NonNullable<ShardLease['spec']>, creationTimestamp?: string): ShardLease {
  return { metadata: { name: 'shard-a', ...(creationTimestamp ? { creationTimestamp } : {}) }, spec };
}

function status(state: ShardState, next: number | undefined) {
  return next === undefined ? { state } : { state, nextChange: at(next) };
}

const held = lease({
  holderIdentity: 'shard-a',
  acquireTime: renewed,
  renewTime: renewed,
  leaseDurationSeconds: 15,
});

describe('shardState of a Lease held by its shard (renewed at t0, 15 s)', () => {
  it.each<{ at: number; state: ShardState; next?: number }>([
    { at: -5, state: 'ready', next: 15 },
    { at: 0, state: 'ready', next: 15 },
    { at: 14.999, state: 'ready', next: 15 },
    { at: 15, state: 'expired', next: 30 },
    { at: 29.999, state: 'expired', next: 30 },
    { at: 30, state: 'uncertain' },
    { at: 3600, state: 'uncertain' },
  ])('at t0 + $at s: $state', ({ at: seconds, state, next }) => {
    expect(shardState(held, at(seconds))).toEqual(status(state, next));
  });
});

describe('shardState of a Lease not held by its shard (renewed at t0, 15 s)', () => {
  it.each<{ case: string; holder?: string; at: number; state: ShardState; next?: number }>([
    { case: 'released', holder: '', at: 0, state: 'dead', next: 75 },
    { case: 'released', holder: '', at: 74.999, state: 'dead', next: 75 },
    { case: 'released', holder: '', at: 75, state: 'orphaned' },
    { case: 'without holder', at: 10, state: 'dead', next: 75 },
    { case: 'acquired by the sharder', holder: 'sharder-0', at: 30, state: 'dead', next: 75 },
    { case: 'acquired by the sharder', holder: 'sharder-0', at: 75, state: 'orphaned' },
  ])('$case, at t0 + $at s: $state', ({ holder, at: seconds, state, next }) => {
    const spec = {
      renewTime: renewed,
      leaseDurationSeconds: 15,
      ...(holder === undefined ? {} : { holderIdentity: holder }),
    };
    expect(shardState(lease(spec), at(seconds))).toEqual(status(state, next));
  });
});

describe('shardState reads times', () => {
  it('as strings with microseconds and as Dates alike', () => {
    const asDates = lease({
      holderIdentity: 'shard-a',
      renewTime: new Date(t0 + 123),
      leaseDurationSeconds: 15,
    });
    const asString = lease({
      holderIdentity: 'shard-a',
      renewTime: '2026-11-26T10:00:00.123456Z',
      leaseDurationSeconds: 15,
    });
    expect(shardState(asString, at(1))).toEqual({ state: 'ready', nextChange: new Date(t0 + 15_123) });
    expect(shardState(asDates, at(1))).toEqual(shardState(asString, at(1)));
  });

  it('from acquireTime when renewTime is missing', () => {
    const acquired = lease({ holderIdentity: 'shard-a', acquireTime: renewed, leaseDurationSeconds: 15 });
    expect(shardState(acquired, at(20))).toEqual({ state: 'expired', nextChange: at(30) });
  });
});

// "A Lease missing acquire/renew time or duration counts as expired now with the default duration": it is
// expired from the last time it is known to have been written, so its later states still come.
describe('shardState of a Lease missing times or duration (default duration 15 s)', () => {
  const renewedOnly = lease({ holderIdentity: 'shard-a', renewTime: renewed });
  const createdAtT0 = lease({ holderIdentity: 'shard-a' }, renewed);
  const releasedCreatedAtT0 = lease({ holderIdentity: '' }, renewed);
  it.each<{ case: string; lease: ShardLease; at: number; state: ShardState; next?: number }>([
    { case: 'no duration, renewed at t0', lease: renewedOnly, at: 0, state: 'expired', next: 15 },
    { case: 'no duration, renewed at t0', lease: renewedOnly, at: 15, state: 'uncertain' },
    {
      case: 'no duration, renewed at t0 + 10 s (clock skew)',
      lease: renewedOnly,
      at: -10,
      state: 'expired',
      next: 5,
    },
    { case: 'no times, created at t0', lease: createdAtT0, at: 5, state: 'expired', next: 15 },
    { case: 'no times, created at t0', lease: createdAtT0, at: 15, state: 'uncertain' },
    { case: 'no times, created at t0', lease: createdAtT0, at: 60, state: 'uncertain' },
    {
      case: 'no times, no creationTimestamp',
      lease: lease({ holderIdentity: 'shard-a' }),
      at: 0,
      state: 'expired',
      next: 15,
    },
    {
      case: 'renewed at t0, a zero duration',
      lease: lease({ holderIdentity: 'shard-a', renewTime: renewed, leaseDurationSeconds: 0 }),
      at: 1,
      state: 'expired',
      next: 15,
    },
    {
      case: 'an unparsable renewTime, created at t0',
      lease: lease({ holderIdentity: 'shard-a', renewTime: 'soon', leaseDurationSeconds: 15 }, renewed),
      at: 1,
      state: 'expired',
      next: 15,
    },
    {
      case: 'no times, released, created at t0',
      lease: releasedCreatedAtT0,
      at: 59,
      state: 'dead',
      next: 60,
    },
    { case: 'no times, released, created at t0', lease: releasedCreatedAtT0, at: 60, state: 'orphaned' },
  ])('$case, at t0 + $at s: $state', ({ lease: shardLease, at: seconds, state, next }) => {
    expect(shardState(shardLease, at(seconds))).toEqual(status(state, next));
  });
});

describe('isAvailable', () => {
  it.each<[ShardState, boolean]>([
    ['ready', true],
    ['expired', true],
    ['uncertain', true],
    ['dead', false],
    ['orphaned', false],
  ])('%s: %s', (state, available) => {
    expect(isAvailable(state)).toBe(available);
  });
});

describe('acquireLease', () => {
  const uncertain = lease({ ...held.spec, leaseTransitions: 2 });

  it('makes the sharder the holder, renewed now, one transition more', () => {
    expect(acquireLease(uncertain, 'sharder-0', at(30))).toEqual({
      holderIdentity: 'sharder/sharder-0',
      acquireTime: at(30),
      renewTime: at(30),
      leaseDurationSeconds: 15,
      leaseTransitions: 3,
    });
  });

  it('fills in what an incomplete Lease lacks', () => {
    const incomplete = lease({ holderIdentity: 'shard-a' });
    expect(acquireLease(incomplete, 'sharder-0', at(30))).toMatchObject({
      leaseDurationSeconds: 15,
      leaseTransitions: 1,
    });
  });

  it('leaves a Lease that reads as dead, and orphaned a minute after it expires', () => {
    const acquired = {
      ...uncertain,
      spec: { ...uncertain.spec, ...acquireLease(uncertain, 'sharder-0', at(30)) },
    };
    expect(shardState(acquired, at(30))).toEqual({ state: 'dead', nextChange: at(105) });
    expect(shardState(acquired, at(105))).toEqual({ state: 'orphaned' });
  });

  it('leaves a dead Lease also when the sharder is named like the shard: its holder has a /', () => {
    const acquired = {
      ...uncertain,
      spec: { ...uncertain.spec, ...acquireLease(uncertain, 'shard-a', at(30)) },
    };
    expect(acquired.spec.holderIdentity).toBe('sharder/shard-a');
    expect(shardState(acquired, at(30)).state).toBe('dead');
  });
});
