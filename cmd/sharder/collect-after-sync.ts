// A full garbage collection after a sync that listed many objects, when node exposes one (--expose-gc, which
// the Deployment's NODE_OPTIONS set). A sync's list pages are garbage once read, but their bodies outlive a
// young-generation collection (they wait for the network), so they are promoted and are freed only at V8's next
// full collection; their buffers are native memory, which V8 counts towards a full collection only from tens
// of MiB on. An idle sharder allocates too little to reach either, and kept what its last sync read, 8-16 MiB
// of resident memory (docs/performance/sharder-memory.md). One collection after the sync returns it, for a
// pause of the event loop of a few milliseconds (the heap holds no sharded objects) once per sync period.
import type { SyncObserver } from '../../controllers/sync/reconciler.ts';

/** Fewer objects than this leave too little garbage to be worth a pause: a page of the list holds 500. */
export const collectAfterExamined = 1_000;

/** An observer that collects after each large sync, or none when node exposes no collection. */
export function collectAfterSync(
  collect: (() => void) | undefined = globalThis.gc,
): SyncObserver | undefined {
  if (collect === undefined) return undefined;
  return {
    finished: ({ examined }) => {
      if (examined >= collectAfterExamined) collect();
    },
  };
}
