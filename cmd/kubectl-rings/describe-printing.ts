// kubectl rings describe's text: the ring's fields as `kubectl describe` lays them out (a label, its value
// aligned), then tables of the shards, the objects per resource and shard, the Leases left out and the ring's
// Events.
import type { ResourceDescription, RingDescription } from './describe.ts';
import { age, table } from './printing.ts';

const indent = (text: string): string =>
  text
    .trimEnd()
    .split('\n')
    .map((line) => `  ${line}`)
    .join('\n');

/** '10 % of the objects, to 1 of 2 canary shards available'. */
function canaryText(ring: RingDescription, percent: number): string {
  const canary = ring.shards.filter((shard) => shard.canary === true);
  const available = canary.filter((shard) => shard.available).length;
  return `${percent} % of the objects, to ${available} of ${canary.length} canary shards available`;
}

const conditionText = ({ status, reason }: NonNullable<RingDescription['ready']>): string =>
  `${status} (${reason})`;

/** ' (controlled)', or ' (controlled by replicasets.apps)' for a level of a chain. */
function controlledText(resource: ResourceDescription): string {
  if (!resource.controlled) return '';
  return resource.owner === undefined ? ' (controlled)' : ` (controlled by ${resource.owner})`;
}

/** The description as text, at `now` for the ages; ends with a newline. */
export function describeText(ring: RingDescription, now: Date): string {
  const available = ring.shards.filter((shard) => shard.available).length;
  const ready = ring.ready === undefined ? '<unknown>' : conditionText(ring.ready);
  const generation =
    ring.generation === undefined
      ? '<unknown>'
      : `${ring.generation} (observed: ${ring.observedGeneration ?? '<none>'})`;
  const fields: [string, string][] = [
    ['Name', ring.name],
    ['Ready', ready],
    ...(ring.ready?.message ? [['Message', ring.ready.message] as [string, string]] : []),
    ...(ring.chainsResolved === undefined
      ? []
      : [['Chains resolved', conditionText(ring.chainsResolved)] as [string, string]]),
    ...(ring.chainsResolved?.status === 'False' && ring.chainsResolved.message
      ? [['Chains message', ring.chainsResolved.message] as [string, string]]
      : []),
    ['Generation', generation],
    ['Shards', `${available} available of ${ring.shards.length}`],
    ...(ring.canary === undefined
      ? []
      : [['Canary', canaryText(ring, ring.canary.percent)] as [string, string]]),
    ['Resources', ring.resources.map((resource) => resource.name + controlledText(resource)).join(', ')],
    ['Age', age(ring.creationTimestamp, now)],
  ];
  // Two spaces after the longest label and its colon.
  const width = Math.max(...fields.map(([label]) => label.length)) + 3;
  const sections = [
    fields.map(([label, value]) => `${`${label}:`.padEnd(width)}${value}`.trimEnd()).join('\n'),
  ];

  // The side of each shard only for a ring with spec.canary: the table stays as it was for the others.
  const side = ring.canary === undefined ? [] : ['SIDE'];
  const shardRows = ring.shards.map((shard) => [
    shard.name,
    shard.state,
    String(shard.available),
    ...(ring.canary === undefined ? [] : [shard.canary === true ? 'canary' : 'stable']),
    `${shard.namespace}/${shard.name}`,
    age(shard.creationTimestamp, now),
    age(shard.renewTime, now),
  ]);
  sections.push(
    shardRows.length === 0
      ? 'Shards: <none>'
      : `Shards:\n${indent(table(['NAME', 'STATE', 'AVAILABLE', ...side, 'LEASE', 'LEASE AGE', 'RENEWED'], shardRows))}`,
  );

  const objectRows: string[][] = [];
  const notServed: string[] = [];
  for (const resource of ring.resources) {
    if (!resource.served) {
      notServed.push(resource.name);
      continue;
    }
    for (const shard of ring.shards) {
      const owned = shard.objects[resource.name];
      objectRows.push([resource.name, shard.name, String(owned?.owned ?? 0), String(owned?.draining ?? 0)]);
    }
    objectRows.push([resource.name, '<other shards>', String(resource.otherShards ?? 0), '']);
    objectRows.push([resource.name, '<unassigned>', String(resource.unassigned ?? 0), '']);
  }
  if (objectRows.length > 0)
    sections.push(`Objects:\n${indent(table(['RESOURCE', 'SHARD', 'OBJECTS', 'DRAINING'], objectRows))}`);
  if (notServed.length > 0) sections.push(`Not served by the API server: ${notServed.join(', ')}`);

  if (ring.ignoredLeases.length > 0) {
    const rows = ring.ignoredLeases.map((lease) => [
      `${lease.namespace}/${lease.name}`,
      lease.reason,
      lease.message,
    ]);
    sections.push(`Ignored Leases:\n${indent(table(['LEASE', 'REASON', 'MESSAGE'], rows))}`);
  }

  // As kubectl describe: left out when the user may not list Events.
  if (ring.events !== undefined) {
    const rows = ring.events.map((event) => [
      event.type,
      event.reason,
      event.count > 1
        ? `${age(event.lastTime, now)} (x${event.count} over ${age(event.firstTime, now)})`
        : age(event.lastTime, now),
      event.from,
      event.note,
    ]);
    sections.push(
      rows.length === 0
        ? 'Events: <none>'
        : `Events:\n${indent(table(['TYPE', 'REASON', 'AGE', 'FROM', 'MESSAGE'], rows))}`,
    );
  }
  return `${sections.join('\n\n')}\n`;
}
