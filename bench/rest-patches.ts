// Micro-benchmark of the sync's patch path: the CPU the sharder's client (a FencedClient, certain) spends per
// PATCH, at the sync's concurrency, against the embedded API server. Each round patches every object once (a
// label, the answer asked as metadata and discarded, as the sync does); the first round of a client opens its
// connections, the later ones reuse them. Variants run interleaved, `--repeats` times each.
//   npm run bench -- rest-patches [--objects 2500] [--concurrency 100] [--rounds 4] [--repeats 3]
//     [--variant now=.] [--variant before=main]
// It prints a markdown table: µs of the client process's CPU (user + system) per patch, min–max.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { forEachConcurrently } from '../runtime/concurrency.ts';
import type { Fence } from '../runtime/leader-election.ts';
import { loadKubeConfig } from '../runtime/load-kubeconfig.ts';
import type { ClusterAccess, RestClient } from '../runtime/rest.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { checkout, type Checkout } from './support/checkout.ts';
import { markdownTable } from './support/plot.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '2500' },
    concurrency: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '4' },
    repeats: { type: 'string', default: '3' },
    variant: { type: 'string', multiple: true, default: ['now=.'] },
  },
  strict: true,
});
const objects = Number(values.objects);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const repeats = Number(values.repeats);
const namespace = 'objects';
const configMaps = `/api/v1/namespaces/${namespace}/configmaps`;
const names = Array.from({ length: objects }, (_, i) => `object-${i}`);

type FencedClientClass = new (access: ClusterAccess, userAgent: string, fence: Fence) => RestClient;
interface Variant {
  label: string;
  checkout: Checkout;
  FencedClient: FencedClientClass;
  fresh: number[];
  kept: number[];
}

const variants: Variant[] = [];
for (const spec of values.variant) {
  const [label = '', ref = '.'] = spec.split(/=(.*)/s);
  const copy = await checkout(ref);
  const module = (await import(join(copy.dir, 'runtime/fence.ts'))) as { FencedClient: FencedClientClass };
  variants.push({ label, checkout: copy, FencedClient: module.FencedClient, fresh: [], kept: [] });
}

const cluster = await startTestCluster();
try {
  const { rest } = cluster;
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: namespace } } });
  await forEachConcurrently(names, 16, async (name) => {
    await rest.request({ method: 'POST', path: configMaps, body: { metadata: { name }, data: { v: name } } });
  });
  // The sharder's own kubeconfig loader (the light one, a bearer token here).
  const access = await loadKubeConfig({
    flag: cluster.controlPlane.kubeconfigPath,
    env: {},
    home: '/nonexistent',
  });
  const fence: Fence = { certain: true, lost: new AbortController().signal, reason: '' };
  let value = 0;
  for (let repeat = 0; repeat < repeats; repeat++) {
    for (const variant of variants) {
      const client = new variant.FencedClient(access, 'bench', fence);
      for (let round = 0; round < rounds; round++) {
        value++;
        const start = process.cpuUsage();
        await forEachConcurrently(names, concurrency, async (name) => {
          await client.request({
            method: 'PATCH',
            path: `${configMaps}/${name}`,
            contentType: 'application/merge-patch+json',
            accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
            // As the sync's patches (a client without the option parses the answer).
            discardAnswer: true,
            body: { metadata: { labels: { 'bench.controller-rings.io/round': String(value) } } },
          });
        });
        const used = process.cpuUsage(start);
        (round === 0 ? variant.fresh : variant.kept).push((used.user + used.system) / objects);
      }
      client.close();
    }
  }
} finally {
  await cluster.stop();
  await Promise.all(variants.map((variant) => variant.checkout.remove()));
}

const range = (numbers: number[]): string =>
  `${Math.min(...numbers).toFixed(0)}–${Math.max(...numbers).toFixed(0)}`;
const median = (numbers: number[]): number => [...numbers].sort((a, b) => a - b)[numbers.length >> 1] ?? NaN;
console.log(
  `${objects} patches a round at concurrency ${concurrency}, ${rounds} rounds a client, ${repeats} clients a variant; ` +
    `µs of CPU per patch, min–max (median), Node ${process.version}\n`,
);
console.log(
  markdownTable(
    ['client', 'first round (new connections)', 'later rounds (kept connections)'],
    variants.map(({ label, fresh, kept }) => [
      label,
      `${range(fresh)} (${median(fresh).toFixed(0)})`,
      `${range(kept)} (${median(kept).toFixed(0)})`,
    ]),
  ),
);
