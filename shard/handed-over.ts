// The objects a shard has handed over (design.md, "Drain acknowledgement") while its caches may still show
// them: the watch reports their departure a moment after the handover's write. Until it does, the shard must
// not act on them again (invariant 2), and a retried work item must not hand them over a second time (its
// write would only conflict).

export class HandedOver {
  /** By object key: the versions of the object up to the one handed over, which the cache may still show. */
  readonly #versions = new Map<string, ReadonlySet<string>>();

  /**
   * Records a handover of `key` whose write succeeded. `versions` are the object's versions this shard knew
   * up to the one the handover was written on; `cached` the version its cache shows now. If the cache shows
   * none of them, it has moved on already (the departure came first, or the object came back): nothing to
   * remember.
   */
  add(key: string, versions: readonly string[], cached: string | undefined): void {
    if (cached !== undefined && versions.includes(cached)) this.#versions.set(key, new Set(versions));
  }

  has(key: string): boolean {
    return this.#versions.has(key);
  }

  /**
   * An event of `key`'s cache: a deletion (the object left this shard's selection), or any version after the
   * handover (the webhook or the sync gave it back), ends the entry.
   */
  observe(type: 'added' | 'updated' | 'deleted', key: string, version: string | undefined): void {
    const versions = this.#versions.get(key);
    if (versions === undefined) return;
    if (type === 'deleted' || version === undefined || !versions.has(version)) this.#versions.delete(key);
  }
}
