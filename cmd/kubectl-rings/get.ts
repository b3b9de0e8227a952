// kubectl rings get [RING...]: the rings with the CRD's printer columns (READY, AVAILABLE, SHARDS, AGE), which
// the sharder keeps in each ring's status; as kubectl get does, a name not found is an error on stderr while
// the rings found are still printed.
import { apiVersion, kind, type ControllerRing } from '../../api/v1alpha1/index.ts';
import type { RestClient } from '../../runtime/rest.ts';
import type { OutputFormat } from './args.ts';
import { age, formatted, table } from './printing.ts';
import { getRing, listRings } from './rings.ts';

export interface GetResult {
  rings: ControllerRing[];
  /** What went wrong for each name that could not be read, in the order named. */
  errors: unknown[];
}

export async function getRings(rest: RestClient, names: readonly string[]): Promise<GetResult> {
  if (names.length === 0) return { rings: await listRings(rest), errors: [] };
  const results = await Promise.allSettled(names.map((name) => getRing(rest, name)));
  return {
    rings: results.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    errors: results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : [])),
  };
}

/** The table of the rings; at `now` for their ages. */
export function ringsTable(rings: readonly ControllerRing[], now: Date): string {
  const rows = rings.map((ring) => {
    const ready = ring.status?.conditions?.find(({ type }) => type === 'Ready')?.status ?? '';
    return [
      ring.metadata?.name ?? '',
      ready,
      String(ring.status?.availableShards ?? ''),
      String(ring.status?.shards ?? ''),
      age(ring.metadata?.creationTimestamp, now),
    ];
  });
  return table(['NAME', 'READY', 'AVAILABLE', 'SHARDS', 'AGE'], rows);
}

/**
 * What get prints on stdout: kubectl's rule for -o json|yaml is the object itself when one name was asked for,
 * else a List (of what was found).
 */
export function printRings(
  rings: readonly ControllerRing[],
  names: readonly string[],
  output: OutputFormat,
  now: Date,
): string {
  if (output === 'table') return rings.length === 0 ? '' : ringsTable(rings, now);
  if (names.length === 1) return rings[0] === undefined ? '' : formatted(rings[0], output);
  const items = rings.map((ring) => ({ apiVersion, kind, ...ring }));
  return formatted({ apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } }, output);
}
