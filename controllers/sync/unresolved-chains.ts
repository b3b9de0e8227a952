// What the last complete sync of each ring found about its chains of controllers (the objects it could not
// follow to their root, sync/reconciler.ts), for the ring's ChainsResolved condition: the ring controller, the
// status's only writer, reads it here and is told when it changes. Held in memory on the leader, one entry per
// ring; a new leader knows nothing until its first sync of the ring ends, and the condition stays as it was.
import type { SyncObserver, SyncReport, UnresolvedChains } from './reconciler.ts';

/** A ring's unresolved objects by resource (none when all resolved), and the generation they were found at. */
export interface ChainFindings {
  generation: number | undefined;
  unresolved: readonly UnresolvedChains[];
}

const signature = (findings: ChainFindings): string => JSON.stringify(findings);

export class UnresolvedChainsObserver implements SyncObserver {
  readonly #changed: (ring: string) => void;
  readonly #findings = new Map<string, ChainFindings>();

  /** `changed` is called with a ring whose findings changed: its status needs writing. */
  constructor(changed: (ring: string) => void) {
    this.#changed = changed;
  }

  finished(report: SyncReport): void {
    // A sync that failed part way did not see all objects: the last complete one's findings stand.
    if (report.error !== undefined) return;
    const findings = { generation: report.generation, unresolved: report.unresolvedChains };
    const previous = this.#findings.get(report.ring);
    this.#findings.set(report.ring, findings);
    if (previous === undefined || signature(previous) !== signature(findings)) this.#changed(report.ring);
  }

  /** The last complete sync's findings for `ring`; undefined before this leader's first. */
  of(ring: string): ChainFindings | undefined {
    return this.#findings.get(ring);
  }

  /** The ring is gone. */
  forget(ring: string): void {
    this.#findings.delete(ring);
  }
}
