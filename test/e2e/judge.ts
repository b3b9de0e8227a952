// What every end-to-end file does with the environment: the design's bounds for a Lease duration, and judging
// the history so far so that a failure names every violation.
import { expect } from '@jest/globals';
import type { EndToEnd } from './harness.ts';
import { formatSummary, type CheckOptions, type Summary } from './invariants.ts';

export type Bounds = Pick<CheckOptions, 'assignmentBoundMs' | 'reconcileBoundMs' | 'failoverBoundMs'>;

/**
 * Invariant 1: the webhook assigns within 1 s, and the sync period (10 s in the tests) covers objects created
 * while it is down; invariant 3: a crashed shard's objects are reconciled elsewhere within 2 x the Lease
 * duration + a few seconds.
 */
export function bounds(leaseDurationSeconds: number): Bounds {
  return {
    assignmentBoundMs: 1_000 + 10_000,
    reconcileBoundMs: 10_000,
    failoverBoundMs: 2 * leaseDurationSeconds * 1000 + 5_000,
  };
}

/** Judges the history so far; fails with the summary, which names every violation. */
export async function expectInvariants(env: EndToEnd, scenario: string, options: Bounds): Promise<Summary> {
  const summary = await env.check(options);
  console.log(formatSummary(scenario, summary));
  expect({ scenario, violations: summary.violations.map((v) => v.message) }).toEqual({
    scenario,
    violations: [],
  });
  return summary;
}

/** The environment a file's beforeAll started, for its tests. */
export function started(env: EndToEnd | undefined): EndToEnd {
  if (env === undefined) throw new Error('the end-to-end environment did not start');
  return env;
}
