// Time as the runtime's timed parts (work queue, leader election) see it, passed in so that tests control it.

export interface Clock {
  /** Milliseconds on a monotonic scale: a paused process finds it moved on when it resumes. */
  now(): number;
  /** Calls `callback` after `ms` milliseconds; the returned function cancels the call. */
  schedule(callback: () => void, ms: number): () => void;
}

// Globals are looked up at each call, so jest's fake timers also apply to users created before them.
export const systemClock: Clock = {
  now: () => performance.now(),
  schedule(callback, ms) {
    const timer = setTimeout(callback, ms);
    return () => {
      clearTimeout(timer);
    };
  },
};
