// Balance, movement and lookup speed of the hash ring (sharding/ring.ts: rendezvous hashing), beside the
// alternative it was chosen over: a token ring with 100 virtual nodes per shard ("tokens").
// Run: npx node bench/ring.ts (prints Markdown for docs/benchmarks.md).
import { murmur3 } from '../sharding/murmur3.ts';
import { HashRing } from '../sharding/ring.ts';

interface Ring {
  shardFor(key: string): string | undefined;
}

/** Consistent hashing on a ring of `perShard` tokens per shard: a key belongs to the next token clockwise. */
class TokenRing implements Ring {
  readonly #tokens: Uint32Array;
  readonly #owners: string[];

  constructor(shardNames: string[], perShard: number) {
    const tokens = shardNames
      .flatMap((name) =>
        Array.from({ length: perShard }, (_, i) => ({ token: murmur3(`${name}-${i}`), name })),
      )
      .sort((a, b) => a.token - b.token);
    this.#tokens = Uint32Array.from(tokens, ({ token }) => token);
    this.#owners = tokens.map(({ name }) => name);
  }

  shardFor(key: string): string | undefined {
    const hash = murmur3(key);
    let low = 0;
    let high = this.#tokens.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((this.#tokens[middle] ?? 0) < hash) low = middle + 1;
      else high = middle;
    }
    return this.#owners[low === this.#tokens.length ? 0 : low];
  }
}

const rings: [string, (shardNames: string[]) => Ring][] = [
  ['rendezvous', (names) => new HashRing(names)],
  ['tokens', (names) => new TokenRing(names, 100)],
];

const keyCount = 10_000;
const keys = Array.from(
  { length: keyCount },
  (_, i) => `example.com/Widget/namespace-${i % 100}/widget-${i}`,
);
const shardNames = (n: number) => Array.from({ length: n }, (_, i) => `example-shard-${i}`);
const fixed = (x: number, digits = 3) => x.toFixed(digits);

function perShard(ring: Ring): number[] {
  const counts = new Map<string | undefined, number>();
  for (const key of keys) {
    const shard = ring.shardFor(key);
    counts.set(shard, (counts.get(shard) ?? 0) + 1);
  }
  return [...counts.values()];
}

function table(head: string[]): void {
  console.log(`| ${head.join(' | ')} |`);
  console.log(`|${head.map(() => '---:|').join('')}`);
}

console.log(`### Balance: objects per shard, ${keyCount} keys\n`);
table(['shards N', ...rings.flatMap(([name]) => [`${name} max/mean`, `${name} min/mean`])]);
for (let n = 2; n <= 10; n++) {
  const cells = rings.flatMap(([, build]) => {
    const counts = perShard(build(shardNames(n)));
    const mean = keyCount / n;
    return [fixed(Math.max(...counts) / mean), fixed(Math.min(...counts) / mean)];
  });
  console.log(`| ${n} | ${cells.join(' | ')} |`);
}

console.log(`\n### Movement when shard N+1 joins, ${keyCount} keys\n`);
table([
  'N → N+1',
  'ideal 1/(N+1)',
  ...rings.flatMap(([name]) => [`${name} moved/ideal`, `${name} to the new shard`]),
]);
for (let n = 2; n <= 10; n++) {
  const ideal = 1 / (n + 1);
  const joined = shardNames(n + 1)[n];
  const cells = rings.flatMap(([, build]) => {
    const before = build(shardNames(n));
    const after = build(shardNames(n + 1));
    const moved = keys.filter((key) => before.shardFor(key) !== after.shardFor(key));
    const toJoined = moved.filter((key) => after.shardFor(key) === joined).length;
    return [fixed(moved.length / keyCount / ideal), `${fixed((100 * toJoined) / moved.length, 1)} %`];
  });
  console.log(`| ${n} → ${n + 1} | ${fixed(ideal, 4)} | ${cells.join(' | ')} |`);
}

const lookups = 1_000_000;
console.log(`\n### Lookups per second: one thread, median of 5 runs of ${lookups} lookups\n`);
table(['shards N', ...rings.flatMap(([name]) => [`${name} lookups/s`, `${name} ns/lookup`])]);
let sink = 0;
for (const n of [1, 3, 10, 30, 100]) {
  const cells = rings.flatMap(([, build]) => {
    const ring = build(shardNames(n));
    const runs: number[] = [];
    for (let run = 0; run < 6; run++) {
      const start = performance.now();
      for (let i = 0; i < lookups; i++) sink += ring.shardFor(keys[i % keyCount] ?? '')?.length ?? 0;
      // The first run warms the JIT up and is not counted.
      if (run > 0) runs.push(performance.now() - start);
    }
    const ms = runs.sort((a, b) => a - b)[2] ?? 0;
    return [((lookups / ms) * 1000).toExponential(2), fixed((ms * 1e6) / lookups, 0)];
  });
  console.log(`| ${n} | ${cells.join(' | ')} |`);
}
// Keeps the lookups from being optimized away.
if (sink === 0) console.log('no lookups');
