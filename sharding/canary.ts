// Canary shards (ControllerRing spec.canary): a ring sends spec.canary.percent of its key space to the shards
// whose Lease matches spec.canary.shardSelector, and the rest to the others (the stable shards).
//
// The side of a key depends on the key and the percent alone:
//   bucket(key) = murmur3_32(utf8(key), seed = 0x7ebd22c7) mod 100, the seed being murmur3_32(utf8("controller-rings.io/canary"), 0)
//   side(key)   = canary if bucket(key) < percent, else stable
// so raising the percent from p to q turns exactly the keys with p <= bucket < q from stable to canary, and
// lowering it turns them back; no other key changes side. Within its side a key goes to its shard by the
// ring's consistent hashing (ring.ts) over that side's available shards. The bucket's seed differs from the
// key hash of ring.ts (seed 0), so the side a key falls on and its shard within a side are independent: each
// side's keys spread evenly over its shards.
//
// When one side has no available shard its keys go to the other side's shards, hashed over those, so that an
// object is never left unassigned while some shard is available (design.md, invariant 1): with no canary shard
// available the canary share goes to the stable shards, and with no stable shard the rest goes to the canary
// shards. That side's keys return as soon as a shard of it is available again, by the normal drain.
import { murmur3 } from './murmur3.ts';
import { isAvailable } from './lease.ts';
import type { ShardMember } from './membership.ts';
import { HashRing } from './ring.ts';

/** murmur3_32(utf8('controller-rings.io/canary'), 0): pinned, as it decides the side of every key. */
export const canarySeed = 0x7ebd22c7;

/** The key's bucket in [0, 100): its side is canary when the bucket is below the percent. */
export function canaryBucket(key: string): number {
  return murmur3(key, canarySeed) % 100;
}

/** The parts of a ControllerRing that decide the split. */
export interface CanaryRing {
  readonly spec: { readonly canary?: { readonly percent?: number } };
}

/** A ring's available shards by side, and the percent of the key space that goes to the canary side. */
export interface Split {
  /** 0 without spec.canary: every key is on the stable side. */
  readonly percent: number;
  /** Available shards whose Lease matches spec.canary.shardSelector, sorted. */
  readonly canary: readonly string[];
  /** The other available shards, sorted. */
  readonly stable: readonly string[];
}

/** The split of the ring's available members (membership.ts marks the canary ones). */
export function ringSplit(members: readonly ShardMember[], ring: CanaryRing): Split {
  const available = members.filter((member) => isAvailable(member.state));
  return {
    percent: ring.spec.canary?.percent ?? 0,
    canary: available.filter((member) => member.canary === true).map((member) => member.name),
    stable: available.filter((member) => member.canary !== true).map((member) => member.name),
  };
}

/** Equal for two splits exactly when they assign every key alike: the sync compares it to see a change. */
export function splitSignature(split: Split): string {
  return `${String(split.percent)}|${split.canary.join(',')}|${split.stable.join(',')}`;
}

/** The shard for each key under a split; build one per change of the split. */
export class SplitHashRing {
  readonly #percent: number;
  readonly #canary: HashRing;
  readonly #stable: HashRing;

  constructor(split: Split) {
    this.#percent = split.percent;
    // An empty side falls back to the other one: both rings are then the same set of shards.
    const canary = split.canary.length > 0 ? split.canary : split.stable;
    const stable = split.stable.length > 0 ? split.stable : split.canary;
    this.#canary = new HashRing(canary);
    this.#stable = canary === stable ? this.#canary : new HashRing(stable);
  }

  /** The shard `key` belongs to, or undefined when no shard is available. */
  shardFor(key: string): string | undefined {
    return this.#onCanarySide(key) ? this.#canary.shardFor(key) : this.#stable.shardFor(key);
  }

  #onCanarySide(key: string): boolean {
    // Without a split (0 or 100 %) the bucket need not be hashed.
    if (this.#percent <= 0) return false;
    if (this.#percent >= 100) return true;
    return canaryBucket(key) < this.#percent;
  }
}

/** Each ring's SplitHashRing of its last seen split: most lookups find the split unchanged. */
export class SplitHashRings {
  readonly #rings = new Map<string, { signature: string; hashRing: SplitHashRing }>();

  /** The hash ring of `ring` under `split`, built anew only when the split changed. */
  of(ring: string, split: Split): SplitHashRing {
    const signature = splitSignature(split);
    const cached = this.#rings.get(ring);
    if (cached?.signature === signature) return cached.hashRing;
    const hashRing = new SplitHashRing(split);
    this.#rings.set(ring, { signature, hashRing });
    return hashRing;
  }

  /** The signature of the split `ring` was last asked under; undefined before, or after delete. */
  signature(ring: string): string | undefined {
    return this.#rings.get(ring)?.signature;
  }

  delete(ring: string): void {
    this.#rings.delete(ring);
  }
}
