// What the webhook needs of a ring's membership, kept between calls. Computing it (the ring's membership from
// every shard Lease, its split, its hash ring) and encoding an assignment's patch cost most of a
// call's decision: between two calls the API server and etcd run on the same cores, so each call finds that code
// and its data out of the CPU's caches. The membership changes only when the ring or a Lease does, which the
// informers show by replacing the object, or when a shard's state changes with time (ShardMember.nextChange).
import { drainLabel, type ControllerRing } from '../api/v1alpha1/index.ts';
import { ringSplit, SplitHashRings, type SplitHashRing } from '../sharding/canary.ts';
import { availableShards, ringMembership, type RingLease } from '../sharding/membership.ts';
import { assignPatch } from '../sharding/patches.ts';
import { encodePatch } from './admission.ts';

/** A ring's shards at one moment. */
export interface RingShards {
  /** The available shards, sorted by name. */
  readonly available: readonly string[];
  /** The same split and hashing as the sync's (controllers/sync/reconciler.ts), so that both agree. */
  readonly hashRing: SplitHashRing;
  /** The encoded patch (admission.ts, encodePatch) of assignPatch(ring, shard, labels). */
  patch(shard: string, labels: Readonly<Record<string, string>> | undefined): string;
}

interface Entry {
  readonly ring: ControllerRing;
  readonly leases: readonly RingLease[];
  /** When a member's state changes next (ms since the epoch). */
  readonly until: number;
  readonly shards: RingShards;
}

export class RingShardsCache {
  readonly #entries = new Map<string, Entry>();
  /** A Lease's renewal replaces its object but seldom changes the split: the hash ring is built per split. */
  readonly #hashRings = new SplitHashRings();

  /** The shards of `ring` (named `name`) among `leases` at `now`: the last ones unless they can have changed. */
  of(name: string, ring: ControllerRing, leases: Iterable<RingLease>, now: Date): RingShards {
    const listed = Array.isArray(leases) ? (leases as readonly RingLease[]) : [...leases];
    const cached = this.#entries.get(name);
    if (
      cached !== undefined &&
      cached.ring === ring &&
      now.getTime() < cached.until &&
      sameObjects(cached.leases, listed)
    ) {
      return cached.shards;
    }
    const { members } = ringMembership(listed, ring, now);
    const until = Math.min(...members.map((member) => member.nextChange?.getTime() ?? Infinity));
    const shards = ringShards(
      name,
      availableShards(members),
      this.#hashRings.of(name, ringSplit(members, ring)),
    );
    this.#entries.set(name, { ring, leases: listed, until, shards });
    return shards;
  }

  delete(name: string): void {
    this.#entries.delete(name);
    this.#hashRings.delete(name);
  }
}

function ringShards(ring: string, available: readonly string[], hashRing: SplitHashRing): RingShards {
  // Per shard and shape of the labels (none, some, some with the drain label): at most three per shard.
  const patches = new Map<string, string>();
  return {
    available,
    hashRing,
    patch(shard, labels) {
      const shape = labels === undefined ? 'none' : drainLabel(ring) in labels ? 'drain' : 'labels';
      const key = `${shape}/${shard}`;
      let patch = patches.get(key);
      if (patch === undefined) {
        patch = encodePatch(assignPatch(ring, shard, labels));
        patches.set(key, patch);
      }
      return patch;
    },
  };
}

function sameObjects<T>(a: readonly T[], b: readonly T[]): boolean {
  return a.length === b.length && a.every((item, k) => item === b[k]);
}
