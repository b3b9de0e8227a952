// The elector's clock logic with a clock the test moves by hand and a Lease kept in memory: no sleeps, no
// cluster. `jump` moves time without firing timers, as for a process paused by SIGSTOP; `advance` fires them.
import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { LeaderElector, type Fence } from './leader-election.ts';
import { createLogger } from './logger.ts';
import { ApiError, RestClient, type RequestSpec } from './rest.ts';
import { ManualClock } from '../test/support/manual-clock.ts';

const renewDeadlineMs = 3_000;
const retryPeriodMs = 500;

/** The leader elector's clock: each timer's continuation runs before the next timer fires. */
class ElectionClock extends ManualClock {
  constructor() {
    super(10_000);
  }

  /** Time passes and the timers due by then fire, in order, each one's continuation before the next. */
  elapse(ms: number): Promise<void> {
    return this.advanceSettling(ms, settle);
  }
}

/** Lets pending promise callbacks and I/O-free continuations run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** One Lease in memory; `during` runs inside a write, before it is answered (e.g. to move the clock). */
class LeaseStore extends RestClient {
  lease: ILease | undefined;
  readonly writes: string[] = [];
  during: (() => void) | undefined;

  constructor() {
    super(new KubeConfig());
  }

  /** Set: every request fails with it, as when the API server is unreachable. */
  failure: ApiError | undefined;

  override async request<T>(spec: RequestSpec): Promise<T> {
    await Promise.resolve();
    if (spec.signal?.aborted) throw new Error('aborted');
    if (this.failure !== undefined) throw this.failure;
    const method = spec.method ?? 'GET';
    if (method === 'GET') {
      if (this.lease === undefined) throw new ApiError(404, 'not found');
      return structuredClone(this.lease) as T;
    }
    const body = spec.body as ILease;
    this.writes.push(`${method} ${body.spec?.holderIdentity ?? ''}`);
    this.during?.();
    const version = Number(this.lease?.metadata?.resourceVersion ?? '0');
    if (method === 'PUT' && body.metadata?.resourceVersion !== String(version)) {
      throw new ApiError(409, 'conflict');
    }
    this.lease = { ...body, metadata: { ...body.metadata, resourceVersion: String(version + 1) } };
    return structuredClone(this.lease) as T;
  }
}

interface Run {
  clock: ElectionClock;
  store: LeaseStore;
  elector: LeaderElector;
  /** Events in order: 'lead 1', 'aborted 1' (', certain' if the fence still was), ... */
  events: string[];
  fences: Fence[];
  /** What the elector told its metrics, in order. */
  statuses: boolean[];
  running: Promise<void>;
}

async function leading(): Promise<Run> {
  const clock = new ElectionClock();
  const store = new LeaseStore();
  const statuses: boolean[] = [];
  const elector = new LeaderElector(store, {
    namespace: 'ns',
    name: 'lease',
    identity: 'me',
    leaseDurationSeconds: 4,
    renewDeadlineMs,
    retryPeriodMs,
    logger: createLogger({ level: 'silent' }),
    now: () => new Date(clock.now()),
    clock,
    metrics: { leading: (isLeader) => statuses.push(isLeader) },
  });
  const events: string[] = [];
  const fences: Fence[] = [];
  expect(elector.fence.certain).toBe(false);
  const running = elector.run(async (signal, fence) => {
    const term = fences.push(fence);
    events.push(`lead ${term}`);
    await new Promise((resolve) => {
      signal.addEventListener('abort', resolve, { once: true });
    });
    // Whether a write would still pass as lead() winds down: yes on stop(), no once leadership is lost.
    events.push(`aborted ${term}${fence.certain ? ', certain' : ''}`);
  });
  await settle();
  expect(events).toEqual(['lead 1']);
  return { clock, store, elector, events, fences, statuses, running };
}

async function stop(run: Run): Promise<void> {
  const stopped = run.elector.stop();
  await run.clock.elapse(0);
  await stopped;
  await run.running;
}

describe('the leadership metrics', () => {
  it('are told each term as it starts and ends: lost past the deadline, led again, released on stop', async () => {
    const run = await leading();
    expect(run.statuses).toEqual([true]);
    run.clock.jump(renewDeadlineMs);
    expect(run.fences[0]?.certain).toBe(false);
    await settle();
    expect(run.events).toEqual(['lead 1', 'aborted 1', 'lead 2']);
    expect(run.statuses).toEqual([true, false, true]);
    await stop(run);
    expect(run.statuses).toEqual([true, false, true, false]);
    expect(run.store.lease?.spec?.holderIdentity).toBe('');
  });
});

describe('the leadership fence', () => {
  it('is certain from the acquisition until its start plus the renew deadline, without any timer', async () => {
    const run = await leading();
    const fence = run.fences[0] as Fence;
    expect(run.elector.fence.certain).toBe(true);
    run.clock.jump(renewDeadlineMs - 1);
    expect(fence.certain).toBe(true);
    expect(fence.lost.aborted).toBe(false);

    // Paused past the deadline: the first read after resuming says no, and ends the term at once.
    run.clock.jump(1);
    expect(fence.certain).toBe(false);
    expect(fence.lost.aborted).toBe(true);
    expect(fence.reason).toMatch(/renew deadline/);
    await settle();
    // The Lease was still ours: the elector acquires it anew, in a new term with a fence of its own.
    expect(run.events).toEqual(['lead 1', 'aborted 1', 'lead 2']);
    expect(fence.certain).toBe(false);
    expect(run.fences[1]?.certain).toBe(true);
    await stop(run);
  });

  it('moves with each successful renewal, from the moment the renewal started', async () => {
    const run = await leading();
    const fence = run.fences[0] as Fence;
    // The renewal's request takes 1 s: the deadline counts from its start, as its renewTime was stamped.
    let renewedAt = 0;
    run.store.during = () => {
      renewedAt = run.clock.now();
      run.clock.jump(1_000);
    };
    await run.clock.elapse(retryPeriodMs);
    expect(run.store.writes).toEqual(['POST me', 'PUT me']);
    run.store.during = undefined;
    run.clock.jump(renewedAt + renewDeadlineMs - 1 - run.clock.now());
    expect(fence.certain).toBe(true);
    run.clock.jump(1);
    expect(fence.certain).toBe(false);
    await stop(run);
  });

  it('stays lost for its term, while a new term gets a fence of its own', async () => {
    const run = await leading();
    const first = run.fences[0] as Fence;
    run.clock.jump(renewDeadlineMs);
    // The renewal timer fires late, as after SIGCONT: the loop sees the deadline passed and does not renew.
    await run.clock.elapse(0);
    expect(run.events.slice(0, 2)).toEqual(['lead 1', 'aborted 1']);
    expect(run.store.writes).toEqual(['POST me', 'PUT me']);
    // The PUT is the new campaign's: the Lease was still ours, so it is acquired anew, in a new term.
    expect(run.events).toEqual(['lead 1', 'aborted 1', 'lead 2']);
    const second = run.fences[1] as Fence;
    expect(second.certain).toBe(true);
    expect(first.certain).toBe(false);
    await stop(run);
  });

  it('is lost when a renewal completes after the deadline, although it succeeded', async () => {
    const run = await leading();
    const fence = run.fences[0] as Fence;
    // Paused while the renewal is in flight, past the deadline; the answer is read after resuming.
    run.store.during = () => {
      run.clock.jump(renewDeadlineMs);
    };
    await run.clock.elapse(retryPeriodMs);
    expect(run.store.writes.slice(0, 2)).toEqual(['POST me', 'PUT me']);
    expect(fence.certain).toBe(false);
    expect(run.events.slice(0, 2)).toEqual(['lead 1', 'aborted 1']);
    run.store.during = undefined;
    await stop(run);
  });

  it('is lost when the Lease has another holder', async () => {
    const run = await leading();
    const fence = run.fences[0] as Fence;
    const lease = run.store.lease as ILease;
    run.store.lease = { ...lease, spec: { ...lease.spec, holderIdentity: 'other' } };
    await run.clock.elapse(retryPeriodMs);
    expect(fence.certain).toBe(false);
    expect(fence.reason).toMatch(/another holder/);
    expect(run.events).toEqual(['lead 1', 'aborted 1']);
    expect(run.elector.isLeader).toBe(false);
    await stop(run);
  });

  it('stays certain while lead() drains on stop(), and is not certain once the Lease is released', async () => {
    const run = await leading();
    const fence = run.fences[0] as Fence;
    const stopped = run.elector.stop();
    await settle();
    expect(run.events).toEqual(['lead 1', 'aborted 1, certain']);
    expect(run.store.writes).toEqual(['POST me', 'PUT ']);
    await stopped;
    expect(fence.certain).toBe(false);
    expect(fence.lost.aborted).toBe(false);
    expect(run.elector.fence.certain).toBe(false);
    await run.running;
  });
});

describe('a candidate', () => {
  it('warns once while the API server keeps failing, not at every attempt, and again after it recovered', async () => {
    const clock = new ElectionClock();
    const store = new LeaseStore();
    store.lease = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { namespace: 'ns', name: 'lease', resourceVersion: '1' },
      spec: { holderIdentity: 'other', leaseDurationSeconds: 3600, renewTime: new Date().toISOString() },
    };
    store.failure = new ApiError(0, 'connect ECONNREFUSED 127.0.0.1:6443', { method: 'GET', path: '/x' });
    const lines: { level: number; msg: string }[] = [];
    const elector = new LeaderElector(store, {
      namespace: 'ns',
      name: 'lease',
      identity: 'me',
      renewDeadlineMs,
      retryPeriodMs,
      logger: pino(
        { level: 'debug' },
        { write: (line: string) => lines.push(JSON.parse(line) as { level: number; msg: string }) },
      ),
      now: () => new Date(clock.now()),
      clock,
    });
    const running = elector.run(() => Promise.resolve());
    await settle();
    await clock.elapse(10 * retryPeriodMs);
    const failed = (): number[] =>
      lines.filter((line) => line.msg === 'failed to acquire the Lease').map((line) => line.level);
    expect(failed().length).toBeGreaterThan(5);
    expect(failed().filter((level) => level === 40)).toEqual([40]);
    expect(failed()[0]).toBe(40);

    // The API server answers again (the Lease is another's), then fails again: a new failure, a new warning.
    store.failure = undefined;
    await clock.elapse(2 * retryPeriodMs);
    const before = failed().length;
    store.failure = new ApiError(503, 'the server is shutting down', { method: 'GET', path: '/x' });
    await clock.elapse(2 * retryPeriodMs);
    expect(failed().slice(before)[0]).toBe(40);
    const stopped = elector.stop();
    await clock.elapse(0);
    await stopped;
    await running;
  });
});
