// Kubernetes Events (events.k8s.io/v1) about objects, recorded as client-go's events recorder (tools/events)
// does, so that `kubectl describe` and `kubectl events --for` show them and a storm of happenings costs a
// bounded number of writes:
//
// - Repeats of one event (same regarding and related object, type, reason, action and note) within
//   `seriesWindowMs` of its last occurrence are one Event with a `series` {count, lastObservedTime}, updated by
//   a PATCH, not new Events. client-go patches at the second occurrence and then only every 30 minutes and when
//   the series ends; here a series is patched at most once per `seriesFlushMs`, so `kubectl events` counts lag
//   by that much at most, and once more at stop().
// - More than `similarMax` different notes for one (regarding, related, type, reason, action) within
//   `similarWindowMs` (client-go's tools/record aggregator: 10 in 10 minutes) are recorded as one combined
//   Event, whose series counts all of them: its note is fixed at creation (the API server refuses a change of
//   an events.k8s.io/v1 note), so it names the first and says it combines the others.
// - A new Event of an object takes a token of that object's bucket (client-go's tools/record spam filter: 25,
//   then one per 5 minutes); without one it is dropped. Repeats folded into a series take none: they cost no
//   write of their own, and so series counts are exact.
//
// Events are best-effort, as client-go's: a failed write is retried at the next flush while its series lives,
// a write the fence refuses (leadership lost) is dropped.
import { systemClock, type Clock } from './clock.ts';
import { eventNamespace } from './event-namespace.ts';
import { isFenced } from './fence.ts';
import type { Logger } from './logger.ts';
import { microTime } from './micro-time.ts';
import { TokenBucket } from './rate-limiter.ts';
import { isAlreadyExists, isNotFound, patchTypes, type RestClient } from './rest.ts';

export interface ObjectReference {
  apiVersion: string;
  kind: string;
  name: string;
  /** Absent for a cluster-scoped object: its Events are in `default`, where client-go puts them. */
  namespace?: string;
  /** `kubectl describe` selects the Events of an object by its uid too. */
  uid?: string;
}

export interface EventRecord {
  regarding: ObjectReference;
  related?: ObjectReference;
  type: 'Normal' | 'Warning';
  /** Why, in UpperCamelCase (at most 128 characters). */
  reason: string;
  /** What was done or failed, in UpperCamelCase (at most 128 characters). */
  action: string;
  /** For humans; cut at 1 kB, the API server's limit. */
  note: string;
}

export interface EventRecorderOptions {
  /** Writes the Events; on the sharder the leader's fenced client. */
  rest: RestClient;
  /** A qualified name, e.g. controller-rings.io/sharder. */
  reportingController: string;
  /** The replica, e.g. its identity (at most 128 characters). */
  reportingInstance: string;
  logger: Logger;
  clock?: Clock;
  /** Wall-clock time, for eventTime and lastObservedTime. */
  now?: () => Date;
  seriesWindowMs?: number;
  seriesFlushMs?: number;
  similarMax?: number;
  similarWindowMs?: number;
  spamBurst?: number;
  spamQps?: number;
}

/** client-go's tools/events finishTime: a series with no occurrence for this long has ended. */
export const defaultSeriesWindowMs = 6 * 60_000;
export const defaultSeriesFlushMs = 30_000;
/** How long stop() waits for the last writes. */
export const defaultStopTimeoutMs = 3_000;
/** client-go's tools/record aggregator. */
export const defaultSimilarMax = 10;
export const defaultSimilarWindowMs = 10 * 60_000;
/** client-go's tools/record spam filter. */
export const defaultSpamBurst = 25;
export const defaultSpamQps = 1 / 300;

const noteLimit = 1024;
/** Writes of one Event that fail (transport, 5xx, 403) before it is given up. */
const maxAttempts = 3;
const eventsPath = '/apis/events.k8s.io/v1/namespaces';

/** One Event as recorded: its name once created, its series, and whether the API server lags behind it. */
interface Entry {
  name: string;
  namespace: string;
  record: EventRecord;
  eventTime: Date;
  count: number;
  lastObserved: Date;
  /** clock.now() of the last occurrence, for the series window. */
  lastAt: number;
  /** Whether the API server holds it (created), and the count it holds. */
  created: boolean;
  writtenCount: number;
  /** clock.now() of the last write's start; a series is written at most once per seriesFlushMs. */
  writtenAt: number;
  /** Failed writes: after maxAttempts the API server is not told more of it. */
  failures: number;
  writing: Promise<void> | undefined;
  cancelFlush: (() => void) | undefined;
}

/** Distinct notes of one (regarding, related, type, reason, action) within the similar window. */
interface Similar {
  since: number;
  notes: Set<string>;
}

function referenceKey(reference: ObjectReference | undefined): string {
  if (reference === undefined) return '';
  const { apiVersion, kind, namespace = '', name, uid = '' } = reference;
  return JSON.stringify([apiVersion, kind, namespace, name, uid]);
}

/** Not the related object: as client-go's aggregator, so 100 Leases ignored for one reason are combined. */
function similarKey({ regarding, type, reason, action }: EventRecord): string {
  return JSON.stringify([referenceKey(regarding), type, reason, action]);
}

function cut(note: string): string {
  return note.length <= noteLimit ? note : `${note.slice(0, noteLimit - 3)}...`;
}

export class EventRecorder {
  readonly #rest: RestClient;
  readonly #controller: string;
  readonly #instance: string;
  readonly #logger: Logger;
  readonly #clock: Clock;
  readonly #now: () => Date;
  readonly #seriesWindowMs: number;
  readonly #seriesFlushMs: number;
  readonly #similarMax: number;
  readonly #similarWindowMs: number;
  readonly #spamBurst: number;
  readonly #spamQps: number;
  /** Per event key (similar key and note), the Event recorded for it. */
  readonly #entries = new Map<string, Entry>();
  readonly #similar = new Map<string, Similar>();
  /** Per regarding object, its spam filter. */
  readonly #buckets = new Map<string, TokenBucket>();
  #stopped = false;
  /** Aborts the writes still under way when stop() has waited long enough. */
  readonly #abort = new AbortController();
  /** Tells apart the names of Events created within one millisecond. */
  #sequence = 0;

  constructor(options: EventRecorderOptions) {
    this.#rest = options.rest;
    this.#controller = options.reportingController;
    this.#instance = options.reportingInstance;
    this.#logger = options.logger;
    this.#clock = options.clock ?? systemClock;
    this.#now = options.now ?? (() => new Date());
    this.#seriesWindowMs = options.seriesWindowMs ?? defaultSeriesWindowMs;
    this.#seriesFlushMs = options.seriesFlushMs ?? defaultSeriesFlushMs;
    this.#similarMax = options.similarMax ?? defaultSimilarMax;
    this.#similarWindowMs = options.similarWindowMs ?? defaultSimilarWindowMs;
    this.#spamBurst = options.spamBurst ?? defaultSpamBurst;
    this.#spamQps = options.spamQps ?? defaultSpamQps;
  }

  /** Records one occurrence; the write (if any) happens in the background. */
  record(event: EventRecord): void {
    if (this.#stopped) return;
    const at = this.#clock.now();
    this.#forgetEnded(at);
    const similar = similarKey(event);
    let record = { ...event, note: cut(event.note) };
    let key = JSON.stringify([similar, referenceKey(record.related), record.note]);
    if (!this.#entries.has(key)) {
      const group = this.#similar.get(similar) ?? { since: at, notes: new Set<string>() };
      this.#similar.set(similar, group);
      if (!group.notes.has(record.note) && group.notes.size >= this.#similarMax) {
        key = JSON.stringify([similar, '(combined)']);
        const combined = this.#entries.get(key);
        // Without the related object: the combined Event is of many.
        const { regarding, type, reason, action } = event;
        record = combined?.record ?? {
          regarding,
          type,
          reason,
          action,
          note: cut(`(combined from similar events) ${event.note}`),
        };
      } else {
        group.notes.add(record.note);
      }
    }
    const entry = this.#entries.get(key);
    if (entry !== undefined) {
      entry.count++;
      entry.lastObserved = this.#now();
      entry.lastAt = at;
      this.#scheduleFlush(entry);
      return;
    }
    const regarding = referenceKey(record.regarding);
    const bucket =
      this.#buckets.get(regarding) ??
      new TokenBucket({ qps: this.#spamQps, burst: this.#spamBurst, clock: this.#clock });
    this.#buckets.set(regarding, bucket);
    if (!bucket.tryTake()) {
      this.#logger.debug(
        { reason: record.reason, note: record.note },
        'event dropped: too many of the object',
      );
      return;
    }
    const now = this.#now();
    const created: Entry = {
      // client-go's name: the object's and the time in hexadecimal nanoseconds.
      name: `${record.regarding.name}.${(BigInt(now.getTime()) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000)).toString(16)}`,
      namespace: eventNamespace(record.regarding),
      record,
      eventTime: now,
      count: 1,
      lastObserved: now,
      lastAt: at,
      created: false,
      writtenCount: 0,
      writtenAt: -Infinity,
      failures: 0,
      writing: undefined,
      cancelFlush: undefined,
    };
    this.#entries.set(key, created);
    this.#scheduleFlush(created);
  }

  /**
   * Writes what the API server lacks (series counts since their last patch), then records no more. Writes still
   * under way after `timeoutMs` are aborted: a shutdown is not held up by an API server that does not answer.
   */
  async stop(timeoutMs = defaultStopTimeoutMs): Promise<void> {
    this.#stopped = true;
    for (const entry of this.#entries.values()) {
      entry.cancelFlush?.();
      entry.cancelFlush = undefined;
    }
    const cancel = this.#clock.schedule(() => {
      this.#abort.abort(new Error('the event recorder stopped'));
    }, timeoutMs);
    const entries = [...this.#entries.values()];
    await Promise.all(entries.map((entry) => entry.writing ?? Promise.resolve()));
    await Promise.all(entries.map((entry) => this.#write(entry)));
    cancel();
  }

  /** A series not written within the flush period is written now, else when the period has passed. */
  #scheduleFlush(entry: Entry): void {
    if (entry.cancelFlush !== undefined || entry.writing !== undefined) return;
    const flush = (): void => {
      entry.cancelFlush = undefined;
      entry.writing = this.#write(entry).finally(() => {
        entry.writing = undefined;
        // Occurrences while it was written, or a write that failed: the next period writes them.
        if (!this.#stopped && entry.writtenCount !== entry.count) this.#scheduleFlush(entry);
      });
    };
    const waitMs = entry.writtenAt + this.#seriesFlushMs - this.#clock.now();
    if (waitMs <= 0) flush();
    else entry.cancelFlush = this.#clock.schedule(flush, waitMs);
  }

  async #write(entry: Entry): Promise<void> {
    if (entry.writtenCount === entry.count) return;
    entry.writtenAt = this.#clock.now();
    const count = entry.count;
    const series = count > 1 ? { count, lastObservedTime: microTime(entry.lastObserved) } : undefined;
    const path = `${eventsPath}/${entry.namespace}/events`;
    try {
      if (entry.created && series !== undefined) {
        try {
          await this.#rest.request({
            method: 'PATCH',
            path: `${path}/${entry.name}`,
            contentType: patchTypes.merge,
            body: { series },
            discardAnswer: true,
            signal: this.#abort.signal,
          });
        } catch (error) {
          // The API server let it expire (its event TTL, 1 h by default) or someone deleted it: create it anew.
          if (!isNotFound(error)) throw error;
          await this.#create(path, entry, series);
        }
      } else {
        await this.#create(path, entry, series);
      }
      entry.created = true;
      entry.writtenCount = count;
    } catch (error) {
      entry.failures++;
      const fields = { err: error, reason: entry.record.reason, event: `${entry.namespace}/${entry.name}` };
      if (isAlreadyExists(error)) {
        // Created by an earlier write whose answer was lost, with these contents.
        entry.created = true;
        entry.writtenCount = count;
      } else if (isFenced(error) || entry.failures >= maxAttempts) {
        // The fence will not pass again in this term; other failures are retried a few times at most.
        entry.writtenCount = entry.count;
        this.#logger[isFenced(error) ? 'debug' : 'warn'](fields, 'event not written: given up');
      } else {
        this.#logger.debug(fields, 'failed to write an event, retrying at the next flush');
      }
    }
  }

  async #create(path: string, entry: Entry, series: object | undefined): Promise<void> {
    const { regarding, related, type, reason, action, note } = entry.record;
    await this.#rest.request({
      method: 'POST',
      path,
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        metadata: { name: entry.name, namespace: entry.namespace },
        eventTime: microTime(entry.eventTime),
        ...(series === undefined ? {} : { series }),
        reportingController: this.#controller,
        reportingInstance: this.#instance,
        action,
        reason,
        regarding,
        ...(related === undefined ? {} : { related }),
        note,
        type,
      },
      discardAnswer: true,
      signal: this.#abort.signal,
    });
  }

  /** Series past their window end (the next occurrence is a new Event); idle buckets are full again. */
  #forgetEnded(at: number): void {
    for (const [key, entry] of this.#entries) {
      const ended = at - entry.lastAt >= this.#seriesWindowMs;
      if (ended && entry.writing === undefined && entry.cancelFlush === undefined) this.#entries.delete(key);
    }
    for (const [key, group] of this.#similar) {
      if (at - group.since >= this.#similarWindowMs) this.#similar.delete(key);
    }
    for (const [key, bucket] of this.#buckets) if (bucket.full) this.#buckets.delete(key);
  }
}
