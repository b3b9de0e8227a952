// Which parts of the node binary a running process holds resident: the present bit of /proc/<pid>/pagemap for
// each page of the binary's mappings (readable for one's own processes), each page shared among the symbols
// (nm, demangled) that it covers and summed by the part of node they belong to (V8's compilers, the wasm engine,
// OpenSSL, ICU...), pages no symbol covers by ELF section (readelf). The file pages of a process's RSS are mostly
// these (docs/performance/sharder-memory.md).
//   node bench/support/binary-pages.ts <pid>
import { execFileSync } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';

const pageSize = 4096;

/** The part of node a (demangled) symbol belongs to, by its namespace or its library's prefixes. */
export function component(symbol: string): string {
  const rules: [RegExp, string][] = [
    [/icudt\d+_dat/, 'ICU data'],
    [/^icu_\d+::|_\d\d$/, 'ICU code'],
    [/v8::internal::compiler::/, 'V8 TurboFan and Turboshaft'],
    [/v8::internal::maglev::/, 'V8 Maglev'],
    [/v8::internal::wasm::/, 'V8 wasm'],
    [/v8::internal::(interpreter|baseline)::/, 'V8 Ignition and Sparkplug'],
    [/v8::internal::(Heap|heap|Scavenger|MarkCompact|Marking|Evacuat)|cppgc::/, 'V8 heap and GC'],
    [/v8::/, 'V8, other'],
    [/node::|^node_/, 'node'],
    [/^uv_/, 'libuv'],
    [/^(ada|simdutf|simdjson)::/, 'ada, simdutf, simdjson'],
    [/^nghttp/, 'nghttp2'],
    [/^llhttp/, 'llhttp'],
    [/^ares_/, 'c-ares'],
    [/^(sqlite3|Brotli|ZSTD|deflate|inflate)/, 'sqlite, compression'],
    [
      /^(SSL|ssl|tls|EVP|evp|X509|x509|ossl|OSSL|OPENSSL|CRYPTO|BN|bn_|ASN1|asn1|RSA|rsa|EC_|ec_|ecp_|PEM|BIO|ERR|OBJ|HMAC|SHA|sha|AES|aes|PKCS|OCSP|RAND|nid_objs)/,
      'OpenSSL',
    ],
  ];
  return rules.find(([pattern]) => pattern.test(symbol))?.[1] ?? 'other symbols';
}

interface Range {
  start: number;
  end: number;
  name: string;
}

function symbols(binary: string): Range[] {
  const text = execFileSync('nm', ['-C', '-n', '-S', '--defined-only', binary], {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
  });
  const ranges: Range[] = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+) ([0-9a-f]+) \w (.*)$/.exec(line);
    if (match === null) continue;
    const start = parseInt(match[1] ?? '', 16);
    ranges.push({ start, end: start + Math.max(parseInt(match[2] ?? '', 16), 1), name: match[3] ?? '' });
  }
  return ranges.sort((a, b) => a.start - b.start);
}

function sections(binary: string): Range[] {
  const text = execFileSync('readelf', ['-SW', binary], { encoding: 'utf8' });
  return [...text.matchAll(/\]\s+(\S+)\s+\S+\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/g)]
    .map(([, name = '', address = '', size = '']) => {
      const start = parseInt(address, 16);
      return { start, end: start + parseInt(size, 16), name: `no symbol, ${name}` };
    })
    .filter(({ start }) => start > 0);
}

/** Resident bytes of the node binary in process `pid`, by component, largest first. */
export async function residentBinaryPages(pid: number): Promise<Map<string, number>> {
  const maps = (await readFile(`/proc/${pid}/maps`, 'utf8'))
    .split('\n')
    .map((line) => line.split(/\s+/))
    .filter((fields) => fields[5]?.endsWith('/bin/node') === true);
  const binary = maps[0]?.[5];
  if (binary === undefined) throw new Error(`process ${pid} maps no node binary`);
  const ranges = symbols(binary);
  const elfSections = sections(binary);
  const totals = new Map<string, number>();
  const add = (name: string, bytes: number): void => {
    totals.set(name, (totals.get(name) ?? 0) + bytes);
  };
  const pagemap = await open(`/proc/${pid}/pagemap`, 'r');
  try {
    for (const [span = ''] of maps) {
      // The binary is not position-independent: its mappings sit at its own addresses.
      const [from, to] = span.split('-').map((address) => parseInt(address, 16)) as [number, number];
      const entries = Buffer.alloc(((to - from) / pageSize) * 8);
      await pagemap.read(entries, 0, entries.length, (from / pageSize) * 8);
      let first = 0;
      for (let page = from; page < to; page += pageSize) {
        const present = entries.readBigUInt64LE(((page - from) / pageSize) * 8) >> 63n === 1n;
        while (first < ranges.length && (ranges[first]?.end ?? 0) <= page) first++;
        if (!present) continue;
        let covered = 0;
        for (let i = first; i < ranges.length && (ranges[i]?.start ?? Infinity) < page + pageSize; i++) {
          const range = ranges[i] as Range;
          const bytes = Math.min(range.end, page + pageSize) - Math.max(range.start, page);
          if (bytes > 0) {
            add(component(range.name), bytes);
            covered += bytes;
          }
        }
        const section = elfSections.find(({ start, end }) => start <= page && page < end);
        if (covered < pageSize) add(section?.name ?? 'no symbol, no section', pageSize - covered);
      }
    }
  } finally {
    await pagemap.close();
  }
  return new Map([...totals].sort((a, b) => b[1] - a[1]));
}

if (import.meta.main) {
  const totals = await residentBinaryPages(Number(process.argv[2]));
  const mib = (bytes: number): string => (bytes / 2 ** 20).toFixed(1);
  console.log(`${mib([...totals.values()].reduce((a, b) => a + b, 0))} MiB of the node binary resident`);
  for (const [name, bytes] of totals)
    if (bytes >= 2 ** 17) console.log(`${mib(bytes).padStart(6)} MiB  ${name}`);
}
