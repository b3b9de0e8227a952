// The event recorder against a stub API server, with a clock the test moves: which Events it creates, how
// repeats become a series patched at most once per flush period, how different notes are combined, and how the
// spam filter bounds the Events of one object.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { startHttpsStub, type HttpsStub } from '../test/support/https-stub.ts';
import { eventually } from '../test/support/eventually.ts';
import { ManualClock } from '../test/support/manual-clock.ts';
import { EventRecorder, type EventRecord, type EventRecorderOptions } from './events.ts';
import { createLogger } from './logger.ts';
import { RestClient } from './rest.ts';

interface Seen {
  method: string;
  url: string;
  body: Record<string, unknown>;
}

let stub: HttpsStub;
let seen: Seen[] = [];
/** Event names the stub answers a PATCH for with 404. */
let gone = new Set<string>();
/** Whether the stub answers every request with 503. */
let failing = false;
/** Whether the stub leaves requests unanswered. */
let hanging = false;

beforeAll(async () => {
  stub = await startHttpsStub((request, body, response) => {
    const method = request.method ?? '';
    const url = request.url ?? '';
    seen.push({ method, url, body: JSON.parse(body || '{}') as Record<string, unknown> });
    if (hanging) return;
    const name = url.split('/').pop() ?? '';
    const code = failing ? 503 : method === 'PATCH' && gone.has(name) ? 404 : method === 'POST' ? 201 : 200;
    response.writeHead(code, { 'content-type': 'application/json' });
    response.end(code < 300 ? '{}' : JSON.stringify({ kind: 'Status', code, reason: 'X', message: 'no' }));
  });
});

afterAll(async () => {
  await stub.close();
});

let clock: ManualClock;
const epoch = Date.parse('2026-12-01T10:00:00Z');

beforeEach(() => {
  seen = [];
  gone = new Set();
  failing = false;
  hanging = false;
  clock = new ManualClock();
});

function recorder(options: Partial<EventRecorderOptions> = {}): EventRecorder {
  return new EventRecorder({
    rest: new RestClient(stub.kubeConfig),
    reportingController: 'controller-rings.io/sharder',
    reportingInstance: 'sharder-0',
    logger: createLogger({ level: 'silent' }),
    clock,
    now: () => new Date(epoch + clock.now()),
    ...options,
  });
}

const ring = {
  apiVersion: 'sharding.controller-rings.io/v1alpha1',
  kind: 'ControllerRing',
  name: 'ring-a',
  uid: 'uid-a',
};

function event(note: string, extra: Partial<EventRecord> = {}): EventRecord {
  return { regarding: ring, type: 'Normal', reason: 'ShardJoined', action: 'Join', note, ...extra };
}

/** Waits until the stub has seen `count` requests and then checks no more came. */
async function requests(count: number): Promise<Seen[]> {
  await eventually(() => {
    expect(seen.length).toBeGreaterThanOrEqual(count);
  });
  expect(seen).toHaveLength(count);
  return seen;
}

function series(request: Seen | undefined): unknown {
  return request?.body.series;
}

describe('EventRecorder', () => {
  it('creates an Event of a cluster-scoped object in default, as client-go names and fills it', async () => {
    const events = recorder();
    events.record(event('shard s-1 joined'));
    const [create] = await requests(1);
    expect(create?.method).toBe('POST');
    expect(create?.url).toBe('/apis/events.k8s.io/v1/namespaces/default/events');
    expect(create?.body).toEqual({
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: expect.stringMatching(/^ring-a\.[0-9a-f]+$/), namespace: 'default' },
      eventTime: '2026-12-01T10:00:00.000000Z',
      reportingController: 'controller-rings.io/sharder',
      reportingInstance: 'sharder-0',
      action: 'Join',
      reason: 'ShardJoined',
      regarding: ring,
      note: 'shard s-1 joined',
      type: 'Normal',
    });
    await events.stop();
    expect(seen).toHaveLength(1);
  });

  it('folds repeats into a series, patched at most once per flush period, the rest at stop', async () => {
    const events = recorder({ seriesFlushMs: 30_000 });
    events.record(event('flap'));
    await requests(1);
    for (let second = 1; second <= 99; second++) {
      clock.advance(1_000);
      events.record(event('flap'));
      // A patch at 30, 60 and 90 s after the create, none in between.
      await requests(1 + Math.floor(second / 30));
    }
    const written = seen;
    const name = (written[0]?.body.metadata as { name: string }).name;
    expect(written.slice(1).map((r) => [r.method, r.url.endsWith(`/events/${name}`)])).toEqual([
      ['PATCH', true],
      ['PATCH', true],
      ['PATCH', true],
    ]);
    expect(written.slice(1).map((r) => (r.body.series as { count: number }).count)).toEqual([30, 60, 90]);
    await events.stop();
    const last = (await requests(5))[4];
    expect(series(last)).toEqual({ count: 100, lastObservedTime: '2026-12-01T10:01:39.000000Z' });
    // Nothing after stop.
    events.record(event('flap'));
    clock.advance(60_000);
    expect(clock.pending).toBe(0);
  });

  it('starts a new Event once a series has been quiet for the series window', async () => {
    const events = recorder({ seriesWindowMs: 60_000 });
    events.record(event('again'));
    await requests(1);
    clock.advance(60_000);
    events.record(event('again'));
    const [first, second] = await requests(2);
    expect(second?.method).toBe('POST');
    expect(series(second)).toBeUndefined();
    expect(second?.body.metadata).not.toEqual(first?.body.metadata);
    await events.stop();
  });

  it('combines more than similarMax different notes of one reason into one Event whose series counts them', async () => {
    const events = recorder({ similarMax: 3 });
    const lease = (i: number): EventRecord['related'] => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      namespace: 'shards',
      name: `lease-${i}`,
    });
    for (let i = 0; i < 10; i++) {
      events.record(event(`lease ${i} ignored`, { reason: 'ShardLeaseIgnored', related: lease(i) }));
    }
    await events.stop();
    const posts = seen.filter((r) => r.method === 'POST');
    expect(posts.map((r) => r.body.note)).toEqual([
      'lease 0 ignored',
      'lease 1 ignored',
      'lease 2 ignored',
      '(combined from similar events) lease 3 ignored',
    ]);
    // The combined Event is of many Leases: it names none as its related object.
    expect(posts.map((r) => (r.body.related as { name?: string } | undefined)?.name)).toEqual([
      'lease-0',
      'lease-1',
      'lease-2',
      undefined,
    ]);
    // The combined Event was created with its first occurrence; stop wrote its count.
    const patches = seen.filter((r) => r.method === 'PATCH');
    expect(patches.map(series)).toEqual([{ count: 7, lastObservedTime: expect.any(String) }]);
    // Another reason is not combined with them.
    expect(seen).toHaveLength(5);
  });

  it('drops new Events of an object beyond its burst, then lets one through per 1/qps', async () => {
    const events = recorder({ spamBurst: 5, spamQps: 1 / 300 });
    for (let i = 0; i < 20; i++) events.record(event(`n ${i}`, { reason: `Reason${i}` }));
    await requests(5);
    // Another object has its own bucket.
    events.record(event('other', { regarding: { ...ring, name: 'ring-b', uid: 'uid-b' } }));
    await requests(6);
    clock.advance(299_000);
    events.record(event('too soon', { reason: 'Late' }));
    clock.advance(1_000);
    events.record(event('in time', { reason: 'Later' }));
    const all = await requests(7);
    expect(all[6]?.body.note).toBe('in time');
    // Repeats of an Event the filter let through still count: they cost no Event of their own.
    events.record(event('n 0', { reason: 'Reason0' }));
    await events.stop();
    expect(series((await requests(8))[7])).toEqual({ count: 2, lastObservedTime: expect.any(String) });
  });

  it('creates the Event anew with its series when the API server no longer has it', async () => {
    const events = recorder();
    events.record(event('expired'));
    const [create] = await requests(1);
    gone.add((create?.body.metadata as { name: string }).name);
    events.record(event('expired'));
    await events.stop();
    const [, patch, recreate] = await requests(3);
    expect(patch?.method).toBe('PATCH');
    expect(recreate?.method).toBe('POST');
    expect(series(recreate)).toEqual({ count: 2, lastObservedTime: expect.any(String) });
    expect(recreate?.body.metadata).toEqual(create?.body.metadata);
  });

  it('retries a failed write at the next flushes, a few times at most', async () => {
    failing = true;
    const events = recorder({ seriesFlushMs: 10_000 });
    events.record(event('unlucky'));
    await requests(1);
    clock.advance(10_000);
    await requests(2);
    clock.advance(10_000);
    await requests(3);
    clock.advance(60_000);
    expect(clock.pending).toBe(0);
    await events.stop();
    expect(seen).toHaveLength(3);
  });

  it('aborts the last writes at stop when the API server does not answer in time', async () => {
    const events = recorder();
    events.record(event('once more'));
    await requests(1);
    hanging = true;
    events.record(event('once more'));
    const stopped = events.stop(3_000);
    // The series patch reached the API server, which does not answer.
    expect((await requests(2))[1]?.method).toBe('PATCH');
    clock.advance(3_000);
    await stopped;
  });
});
