// MurmurHash3 x86_32 (Austin Appleby, public domain): a small, well-studied non-cryptographic hash with
// published test vectors and implementations in every language, so the ring's assignments can be reproduced
// outside this code base. 32-bit arithmetic maps onto Math.imul and int32 operators without BigInt.

const c1 = 0xcc9e2d51;
const c2 = 0x1b873593;

const encoder = new TextEncoder();
// Reused between calls: hashing runs once per object on every sync, and allocating per call would dominate.
let scratch = new Uint8Array(256);
let view = new DataView(scratch.buffer);

function scramble(k: number): number {
  k = Math.imul(k, c1);
  return Math.imul((k << 15) | (k >>> 17), c2);
}

function mixBlock(h: number, block: number): number {
  h ^= scramble(block);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finalize(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** MurmurHash3 x86_32 of the UTF-8 encoding of `text`, as an unsigned 32-bit integer. */
export function murmur3(text: string, seed = 0): number {
  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (text.length * 3 > scratch.length) {
    scratch = new Uint8Array(text.length * 3);
    view = new DataView(scratch.buffer);
  }
  const length = encoder.encodeInto(text, scratch).written;
  const blocksEnd = length & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocksEnd; i += 4) h = mixBlock(h, view.getUint32(i, true));
  const rest = length & 3;
  if (rest > 0) {
    let tail = view.getUint8(blocksEnd);
    if (rest > 1) tail |= view.getUint8(blocksEnd + 1) << 8;
    if (rest > 2) tail |= view.getUint8(blocksEnd + 2) << 16;
    h ^= scramble(tail);
  }
  return finalize(h, length);
}

/** MurmurHash3 x86_32 of the 4 little-endian bytes of `word`: what murmur3 gives for them, without encoding. */
// Spelled out rather than composed from mixBlock and finalize: it runs once per shard on every lookup, and
// V8 stops inlining the nested calls (2x slower lookups over 100 shards).
export function murmur3Word(word: number, seed: number): number {
  let k = Math.imul(word, c1);
  k = Math.imul((k << 15) | (k >>> 17), c2);
  let h = seed ^ k;
  h = (h << 13) | (h >>> 19);
  h = (Math.imul(h, 5) + 0xe6546b64) ^ 4;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
