/**
 * Calls `task` for every item of `items` with at most `limit` calls running at once, pulling items only as
 * calls finish (so an async generator is read no faster than its items are handled). Rejects with the first
 * error, after the calls already running have settled.
 */
export async function forEachConcurrently<T>(
  items: Iterable<T> | AsyncIterable<T>,
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  async function worker(): Promise<void> {
    while (failure === undefined) {
      const next = await iterator.next();
      if (next.done === true) return;
      try {
        await task(next.value);
      } catch (error) {
        failure ??= { error };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, limit) }, worker));
  if (failure !== undefined) throw failure.error;
}
