import { describe, expect, it } from '@jest/globals';
import { countAssignments, renderTable } from './view.ts';

describe('demo view', () => {
  const labels: (Record<string, string> | undefined)[] = [
    { 'shard.x/r': 'a' },
    { 'shard.x/r': 'a', 'drain.x/r': 'true' },
    { 'shard.x/r': 'b' },
    undefined,
    {},
  ];

  it('counts objects per shard, draining and unassigned', () => {
    const snapshot = countAssignments(labels, 'shard.x/r', 'drain.x/r');
    expect(Object.fromEntries(snapshot.perShard)).toEqual({ a: 2, b: 1 });
    expect(snapshot).toMatchObject({ draining: 1, unassigned: 2, total: 5 });
  });

  it('renders a row per known shard with bars scaled to the fullest shard', () => {
    const snapshot = countAssignments(labels, 'shard.x/r', 'drain.x/r');
    const table = renderTable(
      snapshot,
      [
        { name: 'a', state: 'running' },
        { name: 'c', state: 'starting' },
      ],
      ['shard c joins'],
    );
    const rows = table.split('\n');
    expect(rows[1]).toMatch(/^a +running +2 █{40}$/);
    expect(rows[2]).toMatch(/^b +gone +1 █{20}$/);
    expect(rows[3]).toMatch(/^c +starting +0 $/);
    expect(table).toContain('5 objects: 2 unassigned, 1 being drained');
    expect(table).toContain('• shard c joins');
  });
});
