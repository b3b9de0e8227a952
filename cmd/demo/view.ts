// What the demo shows: a table of the ring's objects per shard, with bars, counts of objects being drained
// and of unassigned ones, and what just happened.

export interface Snapshot {
  /** Objects per shard label value. */
  perShard: Map<string, number>;
  draining: number;
  unassigned: number;
  total: number;
}

export interface ShardRow {
  name: string;
  state: 'running' | 'killed' | 'starting' | 'stopped';
}

const barWidth = 40;

export function countAssignments(
  labels: readonly (Readonly<Record<string, string>> | undefined)[],
  shardKey: string,
  drainKey: string,
): Snapshot {
  const perShard = new Map<string, number>();
  let draining = 0;
  let unassigned = 0;
  for (const objectLabels of labels) {
    const shard = objectLabels?.[shardKey];
    if (shard === undefined) unassigned++;
    else perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
    if (objectLabels?.[drainKey] !== undefined) draining++;
  }
  return { perShard, draining, unassigned, total: labels.length };
}

export function renderTable(
  snapshot: Snapshot,
  shards: readonly ShardRow[],
  events: readonly string[],
): string {
  const names = new Set([...shards.map((s) => s.name), ...snapshot.perShard.keys()]);
  const widest = Math.max(5, ...[...names].map((n) => n.length));
  const most = Math.max(1, ...snapshot.perShard.values());
  const lines = [`${'shard'.padEnd(widest)}  ${'state'.padEnd(8)} objects`];
  for (const name of [...names].sort()) {
    const count = snapshot.perShard.get(name) ?? 0;
    const state = shards.find((s) => s.name === name)?.state ?? 'gone';
    const bar = '█'.repeat(Math.round((count / most) * barWidth));
    lines.push(`${name.padEnd(widest)}  ${state.padEnd(8)} ${String(count).padStart(5)} ${bar}`);
  }
  lines.push(
    '',
    `${snapshot.total} objects: ${snapshot.unassigned} unassigned, ${snapshot.draining} being drained (the old shard lets go before the new one may act)`,
    '',
    ...events.slice(-6).map((event) => `• ${event}`),
  );
  return lines.join('\n');
}
