// Checks invariants 1–4, 6 and 7 of design.md against what an end-to-end scenario recorded: the reconciles the
// shards logged, every label change of the ring's objects seen by the test's watch, the shard processes' life
// events and, with the API server's audit log, every write request and who sent it. Pure: the scenario
// collects, this module judges.
//
// Clocks and ordering. All times are Date.now() of processes on one machine, so they share one clock, but
// each is taken at a different point relative to the event it records:
// - A reconcile's start and end are taken by the shard around its reconcile, so two shards' intervals are
//   comparable as they are: intervals are closed and any common millisecond is an overlap.
// - A label observation is taken when the test's watch delivers the change, shortly after the API server
//   committed it. The observation order per object is the commit order and is kept as given. A change
//   observed at t happened at or before t; a shard's watch may deliver it before the test's does, so
//   "X started reconciling after it was assigned to X" allows `clockToleranceMs` of skew.
// - Shard events are taken by the harness before it signals the process ('stopping', 'killed'), so the shard
//   cannot act for others after them: a move observed after a shard's death time is judged as after it.
// - Invariant 7 (controlled objects arrive with their owner): a reconcile that ended with a write refused as
//   AlreadyExists or Conflict (409) belongs to the run of the object on that shard in which it started, with
//   the same tolerance; from the run's start until the shard's first reconcile of it that ends without error,
//   each one is a violation: the shard did not find the object's controlled objects (or their current
//   versions) where the protocol says they are when an object arrives. Later ones are counted, not judged: a
//   shard's cache may lag behind its own writes.
// - A write's time is the API server's requestReceivedTimestamp from its audit log (same machine clock).
// Moves and reconciles caused by a shard's death come from the sharder, which reacts only after the
// shard's Lease is released or expires, far later than any of these skews.
//
// Faults of the system around the shards. While the processes cannot reach the API server (`outages`: its
// restart, a cut network) nothing can be assigned, reconciled or failed over: no bound counts that time. While
// no sharder replica is ready (`sharders`, when recorded), neither webhook nor sync can assign an object, nor
// move a dead shard's objects: the assignment and failover bounds do not count that time either, so an
// object created meanwhile must be assigned within the bound once a replica is back.
//
// Invariant 6 (fencing). A process may act only while it holds its Lease (the sharder's leader Lease for a
// replica's controllers, its own Lease for a shard) and before its last successful renewal's start plus the
// renew deadline. The renewal started before the API server received it, so "received + renew deadline" is
// never earlier than the process's own deadline. A write that passed the process's check just before its
// deadline still has to travel to the API server (the fence's residual window, runtime/fence.ts): it is allowed
// a margin up to the Lease duration, which is still safe, as no other candidate may take the Lease before it
// runs out; a write later than that, or one after another process took the Lease, is a violation. A process
// paused after a write passed its check but before its bytes left sends that write when it resumes, however
// long the pause: such writes in flight at a pause are allowed, as many as the process can have in flight and
// only right after its resume. Anything more is what an unfenced process does: it goes on writing.

/** One reconcile of one object by one shard; `end` is missing when the process died during it. */
export interface ReconcileRecord {
  object: string; // namespace/name
  shard: string;
  start: number; // ms since the epoch
  end?: number;
  /** The error the reconcile ended with, and its Kubernetes status reason (e.g. AlreadyExists) if any. */
  error?: string;
  reason?: string;
}

/** A reconcile's start or end as a shard logs it, one line each. */
export interface ReconcileEvent {
  object: string;
  shard: string;
  time: number;
  phase: 'start' | 'end';
  /** On ends: the error, and its status reason (see ReconcileRecord). */
  error?: string;
  reason?: string;
}

/** One event of the test's watch on the ring's objects, in the order delivered; the first is the state found. */
export interface LabelObservation {
  object: string;
  time: number;
  shard: string | undefined;
  drain: boolean;
  deleted?: boolean;
  /**
   * The object's resourceVersion in the event, when recorded: of one etcd, so changes of objects of any resource
   * are ordered by it exactly, where two watches' delivery times are not (the chain rule uses it).
   */
  version?: number;
}

/**
 * A label change of an object at a level below the root of a chain of controllers (a ring's
 * controlledResources), as for the root's: judged by the chain rule alone.
 */
export interface LevelObservation extends LabelObservation {
  /** Its resource, e.g. serviceaccounts: objects of two levels may share namespace and name. */
  resource: string;
  /** The ring resource's object at the root of its chain, namespace/name as in `labels`. */
  root: string;
}

/**
 * started: process spawned; ready: it holds its shard Lease (assignable from here); stopping: graceful
 * shutdown requested (SIGTERM sent; it may release its Lease from here, so its objects may move undrained);
 * stopped: the process exited; killed: SIGKILL sent; paused: SIGSTOP sent, which ends its life as a kill
 * does (what it does after SIGCONT, 'resumed', must be nothing: invariants 2 and 6 judge it). 'stopped' or
 * 'killed' ends an unfinished reconcile.
 */
export interface ShardEvent {
  shard: string;
  time: number;
  type: 'started' | 'ready' | 'stopping' | 'stopped' | 'killed' | 'paused' | 'resumed';
}

/** A write request as the API server's audit log recorded it, with the process that sent it. */
export interface WriteRecord {
  /** The sharder replica (its identity) or the shard (its name) that sent it, told by its user agent. */
  writer: { role: 'sharder' | 'shard'; name: string };
  verb: string;
  /** The object, as namespace/name, and its resource. */
  resource: string;
  object: string;
  /** requestReceivedTimestamp, ms since the epoch. */
  time: number;
  /** The answer's status code. */
  code: number;
}

export interface LeaseTiming {
  renewDeadlineMs: number;
  leaseDurationMs: number;
}

/** Which Leases fence whom, and their timing (invariant 6). */
export interface FencingOptions {
  /** namespace/name of the sharder's leader Lease. */
  sharderLease: string;
  sharder: LeaseTiming;
  /** Namespace of the shard Leases (each named after its shard). */
  shardLeaseNamespace: string;
  shard: LeaseTiming;
  /** Writes a paused process may deliver on resuming, received within `withinMs` after the resume. */
  inFlightAtPause: { writes: number; withinMs: number };
}

/** A sharder replica's life, as for shards: ready means it serves the webhook (it may not lead yet). */
export interface SharderEvent {
  replica: string;
  time: number;
  type: ShardEvent['type'];
}

/** A time span, closed: [from, to]. */
export interface Interval {
  from: number;
  to: number;
}

export interface ObjectCreation {
  object: string;
  created: number; // taken before the create request
}

export interface History {
  reconciles: ReconcileRecord[];
  labels: LabelObservation[];
  /** Label changes of the levels of chains below the ring's objects, when recorded (the chain rule). */
  levels?: LevelObservation[];
  shards: ShardEvent[];
  objects?: ObjectCreation[];
  /** Sharder replicas' lives; without them a sharder is assumed to be ready throughout. */
  sharders?: SharderEvent[];
  /** When the shards and sharders could not reach the API server. */
  outages?: Interval[];
  /** Write requests of sharder replicas and shards, from the audit log: judged when options.fencing is set. */
  writes?: WriteRecord[];
}

export interface CheckOptions {
  /** Longest an existing object may stay without shard label while some shard is ready (invariant 1). */
  assignmentBoundMs: number;
  /** Longest a live shard may hold an object without starting a reconcile of it. */
  reconcileBoundMs: number;
  /** Longest from a shard's death to a reconcile of its objects elsewhere (invariant 3). */
  failoverBoundMs: number;
  /** When recording stopped: later deadlines are not due yet. */
  end: number;
  /** Skew allowed between a shard's reconcile start and the test's observation of the assignment; 100 ms. */
  clockToleranceMs?: number;
  /** Judges invariant 6 from History.writes and the reconcile starts. */
  fencing?: FencingOptions;
}

export type Rule =
  'assignment' | 'reconcile' | 'overlap' | 'failover' | 'drain' | 'chain' | 'fence' | 'arrival';

/** Reasons of a write refused because the writer's view was not current (HTTP 409). */
const refusedReasons = new Set(['AlreadyExists', 'Conflict']);

export interface Violation {
  invariant: 1 | 2 | 3 | 4 | 6 | 7;
  rule: Rule;
  object: string;
  shards: string[];
  time: number; // when the violation starts: overlap start, missed deadline, move
  message: string;
}

export interface Moves {
  drained: number;
  afterShardDeath: number;
  undrainedWhileAlive: number;
}

export interface Failover {
  object: string;
  shard: string;
  cause: 'killed' | 'stopped' | 'paused' | 'never started';
  orphanedAt: number;
  outcome: 'reconciled' | 'deleted' | 'pending' | 'missed';
  reconciledAt?: number;
}

export interface Summary {
  objects: number;
  reconcilesPerShard: Record<string, number>;
  moves: Moves;
  /** Moves of the chains' levels (History.levels): drained counts those whose root was drained. */
  levelMoves: Moves | undefined;
  /** Reconciles that ended with a write refused as AlreadyExists or Conflict: on arrival (judged), later. */
  refused: { onArrival: number; later: number };
  failovers: Failover[];
  /** Invariant 6: acts judged against their writer's Lease (writes other than Lease renewals, reconcile starts). */
  fenced:
    | { sharderWrites: number; shardWrites: number; reconcileStarts: number; inFlightAtPause: number }
    | undefined;
  violations: Violation[];
}

/** Pairs start and end lines per shard and object; a start followed by another start never ended. */
export function pairReconcileEvents(events: ReconcileEvent[]): ReconcileRecord[] {
  const records: ReconcileRecord[] = [];
  const open = new Map<string, ReconcileRecord>();
  for (const event of events) {
    const key = `${event.shard}\u0000${event.object}`;
    if (event.phase === 'start') {
      const record = { object: event.object, shard: event.shard, start: event.time };
      records.push(record);
      open.set(key, record);
      continue;
    }
    const record = open.get(key);
    if (!record)
      throw new Error(
        `reconcile of ${event.object} by ${event.shard} ended at ${clock(event.time)} without a start`,
      );
    record.end = event.time;
    if (event.error !== undefined) record.error = event.error;
    if (event.reason !== undefined) record.reason = event.reason;
    open.delete(key);
  }
  return records;
}

export function checkInvariants(history: History, options: CheckOptions): Violation[] {
  return summarize(history, options).violations;
}

export function summarize(history: History, options: CheckOptions): Summary {
  const lives = shardLives(history.shards, options.end);
  const reconciles = history.reconciles.map((record) => ({
    ...record,
    end: endOf(record, history.shards, options.end),
    unfinished: record.end === undefined,
  }));
  const timelines = objectTimelines(history, options.end);
  const reconcilesByObject = groupBy(reconciles, (record) => record.object);
  const violations: Violation[] = [];
  const failovers: Failover[] = [];
  const moves: Moves = { drained: 0, afterShardDeath: 0, undrainedWhileAlive: 0 };
  const refused = { onArrival: 0, later: 0 };

  for (const [object, records] of reconcilesByObject) violations.push(...overlaps(object, records));
  const outages = merge(history.outages ?? []);
  // Without a ready sharder replica nothing is assigned or moved: time the assignment and failover bounds skip.
  const sharderless =
    history.sharders === undefined
      ? []
      : complement(availability(sharderLives(history.sharders, options.end), options.end), options.end);
  const stalled = merge([...outages, ...sharderless]);
  const available = subtract(availability(lives, options.end), stalled);
  for (const [object, timeline] of timelines) {
    const ofObject = reconcilesByObject.get(object) ?? [];
    for (const gap of timeline.gaps) violations.push(...unassigned(object, gap, available, options));
    for (const run of timeline.runs) {
      violations.push(...unreconciled(object, run, lives, ofObject, outages, options));
      const arrival = refusedOnArrival(object, run, ofObject, options);
      refused.onArrival += arrival.onArrival.length;
      refused.later += arrival.later;
      violations.push(...arrival.onArrival);
      const failover = failoverOf(object, run, lives, ofObject, timeline.deletions, stalled, options);
      if (!failover) continue;
      failovers.push(failover.failover);
      if (failover.failover.outcome === 'missed') {
        violations.push(missedFailover(failover.failover, failover.deadline, ofObject, options));
      }
    }
    for (const move of timeline.moves) {
      const life = holdingLife(lives, move);
      if (move.drained) moves.drained++;
      else if (!life) moves.afterShardDeath++;
      else {
        moves.undrainedWhileAlive++;
        violations.push(undrained(object, move, life));
      }
    }
  }
  let levelMoves: Moves | undefined;
  if (history.levels !== undefined) {
    const judged = chainMoves(history.levels, timelines, lives, options);
    levelMoves = judged.moves;
    violations.push(...judged.violations);
  }

  const reconcilesPerShard: Record<string, number> = {};
  for (const record of reconciles)
    reconcilesPerShard[record.shard] = (reconcilesPerShard[record.shard] ?? 0) + 1;
  const objects = new Set([...timelines.keys(), ...reconcilesByObject.keys()]).size;
  let fenced: Summary['fenced'];
  if (options.fencing !== undefined) {
    const judged = fencing(history, options.fencing);
    fenced = judged.counts;
    violations.push(...judged.violations);
  }
  violations.sort((a, b) => a.time - b.time);
  return { objects, reconcilesPerShard, moves, levelMoves, refused, failovers, fenced, violations };
}

export function formatSummary(scenario: string, summary: Summary): string {
  const total = Object.values(summary.reconcilesPerShard).reduce((sum, count) => sum + count, 0);
  const perShard = Object.entries(summary.reconcilesPerShard)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([shard, count]) => `${shard} ${count}`)
    .join(', ');
  const { drained, afterShardDeath, undrainedWhileAlive } = summary.moves;
  const lines = [
    `scenario ${scenario}: objects ${summary.objects}, reconciles ${total} (${perShard || 'none'})`,
    `  moves: ${drained} drained, ${afterShardDeath} undrained after their shard died, ${undrainedWhileAlive} undrained while their shard was alive`,
  ];
  if (summary.levelMoves !== undefined) {
    const levels = summary.levelMoves;
    lines.push(
      `  chain levels' moves: ${levels.drained} with their root drained, ${levels.afterShardDeath} after their shard died, ` +
        `${levels.undrainedWhileAlive} without their root drained while their shard was alive`,
    );
  }
  lines.push(
    `  writes refused as AlreadyExists/Conflict: ${summary.refused.onArrival} on arrival, ${summary.refused.later} later`,
  );
  if (summary.fenced !== undefined) {
    const { sharderWrites, shardWrites, reconcileStarts, inFlightAtPause } = summary.fenced;
    lines.push(
      `  fencing: ${sharderWrites} sharder writes, ${shardWrites} shard writes, ${reconcileStarts} reconcile starts judged` +
        `, ${inFlightAtPause} in flight at a pause`,
    );
  }
  for (const cause of ['killed', 'stopped', 'paused', 'never started'] as const) {
    const ofCause = summary.failovers.filter((failover) => failover.cause === cause);
    if (ofCause.length === 0) continue;
    const times = ofCause.flatMap((f) =>
      f.reconciledAt === undefined ? [] : [f.reconciledAt - f.orphanedAt],
    );
    const count = (outcome: Failover['outcome']) => ofCause.filter((f) => f.outcome === outcome).length;
    const max = times.length > 0 ? `max ${seconds(Math.max(...times))}` : 'none reconciled';
    lines.push(
      `  failover after shard ${cause}: objects ${ofCause.length}, ${max}, ` +
        `${count('deleted')} deleted, ${count('pending')} pending at end, ${count('missed')} missed`,
    );
  }
  lines.push(`  violations: ${summary.violations.length === 0 ? 'none' : summary.violations.length}`);
  for (const v of summary.violations) lines.push(`    - [invariant ${v.invariant}, ${v.rule}] ${v.message}`);
  return lines.join('\n');
}

interface Life {
  start: number;
  ready?: number;
  death?: { time: number; cause: 'killed' | 'stopped' | 'paused' };
}

interface Run extends Interval {
  shard: string;
  initial: boolean; // the state the watch found, so the assignment may predate it
  createdAt: number | undefined;
  drainAt: number | undefined;
  /** The resourceVersions of its first observation and of its drain's, when recorded. */
  fromVersion: number | undefined;
  drainVersion: number | undefined;
}

interface Move {
  from: string;
  to: string | undefined;
  time: number;
  version: number | undefined;
  drained: boolean;
}

interface Timeline {
  runs: Run[];
  gaps: Interval[];
  moves: Move[];
  deletions: number[];
}

type Reconcile = ReconcileRecord & { end: number; unfinished: boolean };

function shardLives(events: ShardEvent[], end: number): Map<string, Life[]> {
  const lives = new Map<string, Life[]>();
  for (const event of [...events].sort((a, b) => a.time - b.time)) {
    if (event.time > end || event.type === 'resumed') continue;
    const list = lives.get(event.shard) ?? [];
    lives.set(event.shard, list);
    const last = list.at(-1);
    const current = last && !last.death ? last : undefined;
    if (event.type === 'started' || event.type === 'ready') {
      const life = current ?? { start: event.time };
      if (!current) list.push(life);
      if (event.type === 'ready') life.ready ??= event.time;
    } else if (current) {
      const cause = event.type === 'killed' || event.type === 'paused' ? event.type : 'stopped';
      current.death = { time: event.time, cause };
    }
  }
  return lives;
}

function sharderLives(events: SharderEvent[], end: number): Map<string, Life[]> {
  return shardLives(
    events.map(({ replica, time, type }) => ({ shard: replica, time, type })),
    end,
  );
}

function lifeAt(lives: Life[] | undefined, time: number): Life | undefined {
  return lives?.find((life) => life.start <= time && (!life.death || time < life.death.time));
}

// An unfinished reconcile lasts until its process exited: the shard's next 'stopped' or 'killed'.
function endOf(record: ReconcileRecord, events: ShardEvent[], end: number): number {
  if (record.end !== undefined) return record.end;
  const exits = events.filter(
    (e) =>
      e.shard === record.shard && (e.type === 'stopped' || e.type === 'killed') && e.time >= record.start,
  );
  return Math.min(end, ...exits.map((e) => e.time));
}

function objectTimelines(history: History, end: number): Map<string, Timeline> {
  const labels = groupBy(history.labels, (observation) => observation.object);
  const created = groupBy(history.objects ?? [], (creation) => creation.object);
  const timelines = new Map<string, Timeline>();
  for (const object of new Set([...labels.keys(), ...created.keys()])) {
    const creations = (created.get(object) ?? []).map((c) => c.created).filter((time) => time <= end);
    timelines.set(object, timeline(labels.get(object) ?? [], creations, end));
  }
  return timelines;
}

// Replays one object's observations into runs (consecutive observations on one shard), gaps (existing
// without shard) and moves (a shard losing the object, to the next shard it gets if it first had none).
function timeline(observations: LabelObservation[], creations: number[], end: number): Timeline {
  const result: Timeline = { runs: [], gaps: [], moves: [], deletions: [] };
  const pendingCreations = [...creations].sort((a, b) => a - b);
  let exists = false;
  let initial = false;
  let createdAt: number | undefined;
  let run: Run | undefined;
  let gapFrom: number | undefined;
  let unplaced: Move | undefined;
  const closeRun = (time: number) => {
    if (run) result.runs.push({ ...run, to: time });
    run = undefined;
  };
  const closeGap = (time: number) => {
    if (gapFrom !== undefined) result.gaps.push({ from: gapFrom, to: time });
    gapFrom = undefined;
  };
  const createUntil = (time: number) => {
    while (pendingCreations.length > 0 && (pendingCreations[0] ?? Infinity) <= time) {
      const creation = pendingCreations.shift() ?? time;
      if (exists) continue;
      exists = true;
      initial = true;
      createdAt = creation;
      gapFrom = creation;
      unplaced = undefined;
    }
  };

  for (const observation of observations) {
    createUntil(observation.time);
    const { time, shard } = observation;
    if (observation.deleted) {
      if (exists) result.deletions.push(time);
      closeRun(time);
      closeGap(time);
      exists = false;
      unplaced = undefined;
      continue;
    }
    if (!exists) {
      exists = true;
      initial = true;
      createdAt = undefined;
    }
    if (run && run.shard === shard) {
      if (observation.drain && run.drainAt === undefined) {
        run.drainAt = time;
        run.drainVersion = observation.version;
      }
    } else {
      if (run) {
        const move = {
          from: run.shard,
          to: shard,
          time,
          version: observation.version,
          drained: run.drainAt !== undefined,
        };
        result.moves.push(move);
        unplaced = shard === undefined ? move : undefined;
        closeRun(time);
      }
      if (shard === undefined) {
        gapFrom ??= time;
      } else {
        closeGap(time);
        if (unplaced) unplaced.to = shard;
        unplaced = undefined;
        run = {
          shard,
          from: time,
          to: end,
          initial,
          createdAt,
          drainAt: observation.drain ? time : undefined,
          fromVersion: observation.version,
          drainVersion: observation.drain ? observation.version : undefined,
        };
      }
    }
    initial = false;
  }
  createUntil(end);
  closeRun(end);
  closeGap(end);
  return result;
}

// Invariant 2: closed intervals; a record is compared with every later-starting one that begins before it ends.
function overlaps(object: string, records: Reconcile[]): Violation[] {
  const sorted = [...records].sort((a, b) => a.start - b.start);
  const violations: Violation[] = [];
  sorted.forEach((a, i) => {
    for (const b of sorted.slice(i + 1)) {
      if (b.start > a.end) break;
      if (a.shard === b.shard) continue;
      const common = Math.min(a.end, b.end) - b.start;
      violations.push({
        invariant: 2,
        rule: 'overlap',
        object,
        shards: [a.shard, b.shard],
        time: b.start,
        message:
          `${object} was reconciled by ${a.shard} (${span(a)}) and ${b.shard} (${span(b)}) at overlapping ` +
          `times: ${common} ms in common from ${clock(b.start)}`,
      });
    }
  });
  return violations;
}

// Ready shards' lifetimes, merged: the times at which some shard could take new objects.
function availability(lives: Map<string, Life[]>, end: number): (Interval & { shards: string[] })[] {
  const intervals = [...lives].flatMap(([shard, list]) =>
    list.flatMap((life) =>
      life.ready === undefined ? [] : [{ shard, from: life.ready, to: life.death?.time ?? end }],
    ),
  );
  intervals.sort((a, b) => a.from - b.from);
  const merged: (Interval & { shards: string[] })[] = [];
  for (const { shard, from, to } of intervals) {
    const last = merged.at(-1);
    if (last && from <= last.to) {
      last.to = Math.max(last.to, to);
      if (!last.shards.includes(shard)) last.shards.push(shard);
    } else merged.push({ from, to, shards: [shard] });
  }
  return merged;
}

/** Sorted, overlapping or touching intervals joined. */
function merge(intervals: Interval[]): Interval[] {
  const merged: Interval[] = [];
  for (const { from, to } of [...intervals].sort((a, b) => a.from - b.from)) {
    const last = merged.at(-1);
    if (last && from <= last.to) last.to = Math.max(last.to, to);
    else merged.push({ from, to });
  }
  return merged;
}

/** The times up to `end` not covered by `intervals` (merged). */
function complement(intervals: Interval[], end: number): Interval[] {
  const gaps: Interval[] = [];
  let from = -Infinity;
  for (const interval of intervals) {
    if (interval.from > from) gaps.push({ from, to: interval.from });
    from = Math.max(from, interval.to);
  }
  if (from < end) gaps.push({ from, to: end });
  return gaps;
}

/** `windows` without the times in `excluded` (merged); a window may fall apart into several. */
function subtract<W extends Interval>(windows: W[], excluded: Interval[]): W[] {
  return windows.flatMap((window) => {
    const parts: W[] = [];
    let from = window.from;
    for (const cut of excluded) {
      if (cut.to <= from || cut.from >= window.to) continue;
      if (cut.from > from) parts.push({ ...window, from, to: cut.from });
      from = Math.max(from, cut.to);
    }
    if (from < window.to) parts.push({ ...window, from, to: window.to });
    return parts;
  });
}

/** The moment `bound` ms after `from` when the time in `excluded` (merged) does not count. */
function deadlineAfter(from: number, bound: number, excluded: Interval[]): number {
  let time = from;
  let left = bound;
  for (const cut of excluded) {
    if (cut.to <= time) continue;
    if (cut.from > time) {
      if (cut.from - time >= left) break;
      left -= cut.from - time;
    }
    time = cut.to;
  }
  return time + left;
}

// Invariant 1: an existing object without shard while some shard is ready is assigned within the bound.
function unassigned(
  object: string,
  gap: Interval,
  available: (Interval & { shards: string[] })[],
  options: CheckOptions,
): Violation[] {
  for (const window of available) {
    const from = Math.max(gap.from, window.from);
    const waited = Math.min(gap.to, window.to) - from;
    if (waited <= options.assignmentBoundMs) continue;
    const until = gap.to >= options.end ? 'the end of observation' : clock(gap.to);
    return [
      {
        invariant: 1,
        rule: 'assignment',
        object,
        shards: window.shards,
        time: from + options.assignmentBoundMs,
        message:
          `${object} had no shard from ${clock(gap.from)} until ${until}, ${waited} ms of it while ` +
          `${window.shards.join(', ')} could take it (bound ${options.assignmentBoundMs} ms)`,
      },
    ];
  }
  return [];
}

// A live shard that keeps an object past the bound, without being asked to drain it, has reconciled it.
function unreconciled(
  object: string,
  run: Run,
  lives: Map<string, Life[]>,
  records: Reconcile[],
  outages: Interval[],
  options: CheckOptions,
): Violation[] {
  const deadline = deadlineAfter(run.from, options.reconcileBoundMs, outages);
  const life = lifeAt(lives.get(run.shard), run.from);
  if (run.to <= deadline || (run.drainAt !== undefined && run.drainAt <= deadline)) return [];
  if (!life || (life.death && life.death.time <= deadline)) return []; // the failover rule's case
  const tolerance = options.clockToleranceMs ?? 100;
  const notBefore = run.initial ? (run.createdAt ?? -Infinity) - tolerance : run.from - tolerance;
  const own = records.filter((record) => record.shard === run.shard);
  if (own.some((record) => record.start >= notBefore && record.start <= deadline)) return [];
  const later = own.find((record) => record.start > deadline);
  const since = run.initial
    ? `held it when first observed at ${clock(run.from)}`
    : `got it at ${clock(run.from)}`;
  return [
    {
      invariant: 1,
      rule: 'reconcile',
      object,
      shards: [run.shard],
      time: deadline,
      message:
        `${object} was not reconciled by ${run.shard}, which ${since}, by ${clock(deadline)} ` +
        `(bound ${options.reconcileBoundMs} ms); ` +
        (later
          ? `its first later reconcile started at ${clock(later.start)}`
          : 'it never reconciled it after'),
    },
  ];
}

// Invariant 7: the reconciles of `run`'s shard that ended with a write refused as AlreadyExists or Conflict,
// those before its first reconcile in the run that ended without error as violations, the others counted.
function refusedOnArrival(
  object: string,
  run: Run,
  records: Reconcile[],
  options: CheckOptions,
): { onArrival: Violation[]; later: number } {
  const tolerance = options.clockToleranceMs ?? 100;
  const own = records
    .filter((r) => r.shard === run.shard && r.start >= run.from - tolerance && r.start <= run.to)
    .sort((a, b) => a.start - b.start);
  const settled = own.find((r) => !r.unfinished && r.error === undefined)?.start ?? Infinity;
  const refused = own.filter((r) => r.reason !== undefined && refusedReasons.has(r.reason));
  const onArrival = refused.filter((r) => r.start < settled);
  const since = run.initial
    ? `held it when first observed at ${clock(run.from)}`
    : `got it at ${clock(run.from)}`;
  return {
    onArrival: onArrival.map((record) => ({
      invariant: 7,
      rule: 'arrival',
      object,
      shards: [run.shard],
      time: record.start,
      message:
        `${object}: a write of ${run.shard}'s reconcile (${span(record)}) was refused as ${record.reason ?? ''} ` +
        `before any reconcile of it there succeeded; ${run.shard} ${since}: ${record.error ?? ''}`,
    })),
    later: refused.length - onArrival.length,
  };
}

// Invariant 3: an object whose shard died while holding it (or that was assigned to a dead shard) is
// reconciled by another shard, or by a later process of the same shard, within the failover bound.
function failoverOf(
  object: string,
  run: Run,
  lives: Map<string, Life[]>,
  records: Reconcile[],
  deletions: number[],
  stalled: Interval[],
  options: CheckOptions,
): { failover: Failover; deadline: number } | undefined {
  const ofShard = lives.get(run.shard) ?? [];
  const life = lifeAt(ofShard, run.from);
  let orphanedAt: number;
  let cause: Failover['cause'];
  if (life) {
    if (!life.death || life.death.time >= run.to) return undefined;
    orphanedAt = life.death.time;
    cause = life.death.cause;
  } else {
    orphanedAt = run.from;
    cause =
      ofShard.filter((l) => l.death && l.death.time <= run.from).at(-1)?.death?.cause ?? 'never started';
  }
  const restart = ofShard.find((l) => l.start >= orphanedAt)?.start ?? Infinity;
  const next = records
    .filter((r) => (r.shard === run.shard ? r.start >= restart : r.start >= orphanedAt))
    .sort((a, b) => a.start - b.start)[0];
  const deadline = deadlineAfter(orphanedAt, options.failoverBoundMs, stalled);
  const deletion = deletions.find((time) => time >= orphanedAt);
  const failover: Failover = { object, shard: run.shard, cause, orphanedAt, outcome: 'missed' };
  if (next) failover.reconciledAt = next.start;
  if (next && next.start <= deadline && (deletion === undefined || next.start <= deletion)) {
    failover.outcome = 'reconciled';
  } else if (deletion !== undefined && deletion <= deadline) failover.outcome = 'deleted';
  else if (options.end < deadline) failover.outcome = 'pending';
  return { failover, deadline };
}

function missedFailover(
  failover: Failover,
  deadline: number,
  records: Reconcile[],
  options: CheckOptions,
): Violation {
  const { object, shard, cause, orphanedAt, reconciledAt } = failover;
  const how =
    cause === 'never started'
      ? `was labelled at ${clock(orphanedAt)} for ${shard}, which the harness never started,`
      : `lost its shard ${shard} (${cause} at ${clock(orphanedAt)})`;
  const others = [...new Set(records.map((r) => r.shard).filter((s) => s !== shard))];
  return {
    invariant: 3,
    rule: 'failover',
    object,
    shards: [shard, ...others],
    time: deadline,
    message:
      `${object} ${how} and was not reconciled elsewhere by ${clock(deadline)} (bound ${options.failoverBoundMs} ms); ` +
      (reconciledAt === undefined
        ? 'no later reconcile at all'
        : `next reconcile started at ${clock(reconciledAt)}`),
  };
}

// The life of a move's old shard if it held its Lease at the move: a shard acts only while it holds its Lease,
// from 'ready' on. A restarted shard's old objects may still be moving when its new process starts. Reconciles
// that did overlap are the overlap rule's to catch.
function holdingLife(lives: Map<string, Life[]>, move: Move): Life | undefined {
  const life = lifeAt(lives.get(move.from), move.time);
  return life?.ready !== undefined && life.ready <= move.time ? life : undefined;
}

// Invariant 4: a shard loses an object while it runs only after the drain label was set on it.
function undrained(object: string, move: Move, life: Life): Violation {
  const to = move.to ?? 'no shard';
  return {
    invariant: 4,
    rule: 'drain',
    object,
    shards: move.to ? [move.from, move.to] : [move.from],
    time: move.time,
    message:
      `${object} moved from ${move.from} to ${to} at ${clock(move.time)} without a drain label while ` +
      `${move.from} was alive (started ${clock(life.start)}` +
      (life.death ? `, ${life.death.cause} ${clock(life.death.time)})` : ', still running)'),
  };
}

// The chain rule (invariant 4 below the root): a level's object leaves a live shard only once its root's run on
// that shard (the latest to start by the move) was drained before the move: the shard hands over the levels in
// the root's work item, so the root's drain label comes first. "Before" is by resourceVersion when the watches
// recorded it (one etcd's, exact), else by the watches' times within the clock tolerance.
function chainMoves(
  levels: LevelObservation[],
  roots: Map<string, Timeline>,
  lives: Map<string, Life[]>,
  options: CheckOptions,
): { moves: Moves; violations: Violation[] } {
  const tolerance = options.clockToleranceMs ?? 100;
  const moves: Moves = { drained: 0, afterShardDeath: 0, undrainedWhileAlive: 0 };
  const violations: Violation[] = [];
  for (const observations of groupBy(levels, (o) => `${o.resource} ${o.object}`).values()) {
    const { resource, object, root } = observations[0] ?? { resource: '', object: '', root: '' };
    const level = `${resource} ${object}`;
    for (const move of timeline(observations, [], options.end).moves) {
      const life = holdingLife(lives, move);
      if (!life) {
        moves.afterShardDeath++;
        continue;
      }
      // By resourceVersion where both watches recorded it (exact), else by time within the tolerance.
      const runs = roots.get(root)?.runs.filter((run) => run.shard === move.from) ?? [];
      const byVersion = move.version !== undefined && runs.every((run) => run.fromVersion !== undefined);
      const before = (at: number | undefined, version: number | undefined): boolean =>
        byVersion
          ? version !== undefined && version < (move.version ?? 0)
          : at !== undefined && at <= move.time + tolerance;
      const rootRun = runs.filter((run) => before(run.from, run.fromVersion)).at(-1);
      if (rootRun !== undefined && before(rootRun.drainAt, rootRun.drainVersion)) {
        moves.drained++;
        continue;
      }
      moves.undrainedWhileAlive++;
      const rootState =
        rootRun === undefined
          ? `its root ${root} was never on ${move.from} before`
          : `its root ${root}, on ${move.from} since ${clock(rootRun.from)}, ` +
            (rootRun.drainAt === undefined
              ? 'was not drained from it'
              : `was drained from it only at ${clock(rootRun.drainAt)}`);
      violations.push({
        invariant: 4,
        rule: 'chain',
        object: level,
        shards: move.to ? [move.from, move.to] : [move.from],
        time: move.time,
        message:
          `${level} moved from ${move.from} to ${move.to ?? 'no shard'} at ${clock(move.time)} while ` +
          `${move.from} was alive, but ${rootState}`,
      });
    }
  }
  return { moves, violations };
}

interface LeaseWrite {
  time: number;
  writer: string; // role/name
}

// Invariant 6: every act of a sharder replica's controllers (a write other than to its leader Lease) and of a
// shard (a write other than to its own Lease, a reconcile start) falls in a term of its writer's Lease: its
// writer made the last successful create or update of that Lease before it, and it is no later than that
// write's receipt + the renew deadline + the margin explained at the top, or it was in flight at a pause.
function fencing(
  history: History,
  options: FencingOptions,
): { counts: NonNullable<Summary['fenced']>; violations: Violation[] } {
  const writes = history.writes ?? [];
  const leaseKey = (write: WriteRecord): string | undefined =>
    write.resource === 'leases' ? write.object : undefined;
  const holderWrites = new Map<string, LeaseWrite[]>();
  for (const write of writes) {
    const lease = leaseKey(write);
    const held =
      (write.verb === 'create' || write.verb === 'update') && write.code >= 200 && write.code < 300;
    if (lease === undefined || !held) continue;
    const list = holderWrites.get(lease) ?? [];
    holderWrites.set(lease, list);
    list.push({ time: write.time, writer: `${write.writer.role}/${write.writer.name}` });
  }
  for (const list of holderWrites.values()) list.sort((a, b) => a.time - b.time);
  const ownLease = (role: 'sharder' | 'shard', name: string): string =>
    role === 'sharder' ? options.sharderLease : `${options.shardLeaseNamespace}/${name}`;
  const counts = { sharderWrites: 0, shardWrites: 0, reconcileStarts: 0, inFlightAtPause: 0 };
  const violations: Violation[] = [];
  const inFlight = inFlightAtPause(history, options.inFlightAtPause);
  const judge = (
    role: 'sharder' | 'shard',
    name: string,
    time: number,
    what: string,
    object: string,
    write = false,
  ) => {
    const lease = ownLease(role, name);
    const timing = role === 'sharder' ? options.sharder : options.shard;
    const marginMs = Math.max(timing.leaseDurationMs - timing.renewDeadlineMs, 0);
    const last = (holderWrites.get(lease) ?? []).filter((write) => write.time <= time).at(-1);
    const self = `${role}/${name}`;
    const problem =
      last === undefined
        ? `it had never held its Lease ${lease}`
        : last.writer !== self
          ? `${last.writer} held its Lease ${lease} (written at ${clock(last.time)})`
          : time > last.time + timing.renewDeadlineMs + marginMs
            ? `its last renewal of ${lease} was received at ${clock(last.time)}: past its renew deadline ` +
              `(${timing.renewDeadlineMs} ms) and the margin (${marginMs} ms) by ` +
              `${Math.round(time - last.time - timing.renewDeadlineMs - marginMs)} ms`
            : undefined;
    if (problem === undefined) return;
    if (write && inFlight(self, time)) {
      counts.inFlightAtPause++;
      return;
    }
    violations.push({
      invariant: 6,
      rule: 'fence',
      object,
      shards: [self],
      time,
      message: `${self} ${what} at ${clock(time)}, when ${problem}`,
    });
  };
  for (const write of [...writes].sort((a, b) => a.time - b.time)) {
    const { role, name } = write.writer;
    if (leaseKey(write) === ownLease(role, name)) continue;
    if (role === 'sharder') counts.sharderWrites++;
    else counts.shardWrites++;
    judge(role, name, write.time, `sent ${write.verb} ${write.resource} ${write.object}`, write.object, true);
  }
  for (const record of history.reconciles) {
    counts.reconcileStarts++;
    judge('shard', record.shard, record.start, `started a reconcile of ${record.object}`, record.object);
  }
  return { counts, violations };
}

/**
 * Whether a write its writer (role/name) made at `time` counts as one in flight when it was paused: received
 * right after a resume, and among the first `writes` of those. Asked once per write, in order of receipt.
 */
function inFlightAtPause(
  history: History,
  { writes, withinMs }: FencingOptions['inFlightAtPause'],
): (writer: string, time: number) => boolean {
  const resumes = [
    ...history.shards.map((event) => ({ writer: `shard/${event.shard}`, ...event })),
    ...(history.sharders ?? []).map((event) => ({ writer: `sharder/${event.replica}`, ...event })),
  ].filter((event) => event.type === 'resumed');
  const delivered = new Map<(typeof resumes)[number], number>();
  return (writer, time) => {
    const resume = resumes.find((r) => r.writer === writer && r.time <= time && time <= r.time + withinMs);
    if (resume === undefined) return false;
    const count = (delivered.get(resume) ?? 0) + 1;
    delivered.set(resume, count);
    return count <= writes;
  };
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(key(item));
    if (group) group.push(item);
    else groups.set(key(item), [item]);
  }
  return groups;
}

function span(record: Reconcile): string {
  const end = record.unfinished ? `${clock(record.end)}, no end record` : clock(record.end);
  return `${clock(record.start)}–${end}`;
}

function clock(time: number): string {
  return Number.isFinite(time) ? new Date(time).toISOString().slice(11, 23) : String(time);
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
