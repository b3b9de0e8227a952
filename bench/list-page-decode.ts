// What decoding one page of a metadata list costs the sharder: a real page of 500 ConfigMaps' metadata
// (PartialObjectMetadataList, as the sync and the cleanup list them) from the embedded API server, each object
// labelled at creation and then patched by a second field manager, as the sharder's drains do (so two
// managedFields entries), decoded by JSON.parse (before) and by json-pick keeping what listMetadata keeps.
// Per decoder it reads, in this process, the CPU of one decode (process.cpuUsage over --iterations decodes, the
// best of --runs), the bytes the heap grew by during one decode with no collection in between (what it
// allocated), and what stays reachable of its result after a full collection (what it retains).
//   npm run bench -- list-page-decode [--objects 500] [--iterations 200] [--runs 7]
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseArgs } from 'node:util';
import { forEachConcurrently } from '../runtime/concurrency.ts';
import { pick } from '../runtime/json-pick.ts';
import { listedShape } from '../runtime/pager.ts';
import { metadataListAccept, patchTypes } from '../runtime/rest.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { createNamespace } from '../test/support/rings.ts';
import { markdownTable } from './support/plot.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '500' },
    iterations: { type: 'string', default: '200' },
    runs: { type: 'string', default: '7' },
  },
  strict: true,
});
const objects = Number(values.objects);
const iterations = Number(values.iterations);
const runs = Number(values.runs);
const heldResults = 4;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const namespace = 'list-page-decode';
const path = `/api/v1/namespaces/${namespace}/configmaps`;
const cluster = await startTestCluster();
let body: Buffer;
try {
  await createNamespace(cluster.rest, namespace);
  const names = Array.from({ length: objects }, (_, i) => `object-${String(i).padStart(5, '0')}`);
  await forEachConcurrently(names, 16, async (name) => {
    const labels = { 'sharding.example/shard': `shard-${name.length % 3}` };
    await cluster.rest.request({
      method: 'POST',
      path,
      body: { metadata: { name, labels }, data: { v: name } },
    });
    await cluster.rest.request({
      method: 'PATCH',
      path: `${path}/${name}`,
      query: { fieldManager: 'controller-rings-sharder' },
      contentType: patchTypes.merge,
      body: { metadata: { labels: { 'drain.sharding.example/ring': 'true' } } },
    });
  });
  body = await cluster.rest.request<Buffer>({
    path,
    query: { limit: objects },
    accept: metadataListAccept,
    decode: (bytes) => Buffer.from(bytes),
  });
} finally {
  await cluster.stop();
}

const decoders = {
  'JSON.parse': (text: Buffer): unknown => JSON.parse(text.toString()),
  'json-pick (listMetadata)': (text: Buffer): unknown => {
    const picked = pick(text, listedShape);
    if ('error' in picked) throw new Error(picked.error);
    return picked.value;
  },
};

const cpu = (): number => {
  const usage = process.cpuUsage();
  return usage.user + usage.system;
};
const used = (): number => getHeapStatistics().used_heap_size;
const results = new Map<string, { cpu: number[]; allocated: number[]; retained: number[] }>();
for (let run = 0; run < runs; run++) {
  for (const [name, decode] of Object.entries(decoders)) {
    const result = results.get(name) ?? { cpu: [], allocated: [], retained: [] };
    results.set(name, result);
    const start = cpu();
    for (let k = 0; k < iterations; k++) decode(body);
    result.cpu.push((cpu() - start) / iterations);
    gc();
    const before = used();
    // Held until after the collection: what of them is still reachable is the results themselves. A few, so
    // that the heap's own noise (a few KiB) counts less; few enough that no scavenge runs between.
    const held = Array.from({ length: heldResults }, () => decode(body));
    result.allocated.push((used() - before) / heldResults);
    gc();
    result.retained.push((used() - before) / heldResults);
    held.length = 0;
  }
}

const range = (xs: number[], scale: number, digits: number): string =>
  `${(Math.min(...xs) / scale).toFixed(digits)}-${(Math.max(...xs) / scale).toFixed(digits)}`;
const baseline = results.get('JSON.parse');
console.log(
  `A page of ${objects} objects' metadata: ${(body.length / 1024).toFixed(0)} KiB; ${runs} runs, min-max; CPU per decode is the mean of ${iterations}.\n`,
);
console.log(
  markdownTable(
    [
      'decoder',
      'CPU per page (ms)',
      'allocated per page (KiB)',
      'retained (KiB)',
      'CPU vs JSON.parse (best)',
    ],
    [...results].map(([name, r]) => [
      name,
      range(r.cpu, 1000, 2),
      range(r.allocated, 1024, 0),
      range(r.retained, 1024, 0),
      baseline === undefined ? '' : (Math.min(...r.cpu) / Math.min(...baseline.cpu)).toFixed(2),
    ]),
  ),
);
