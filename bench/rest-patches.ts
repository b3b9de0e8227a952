// Micro-benchmark: the CPU a RestClient (fenced, as the sharder's sync uses it) spends per PATCH against the
// embedded API server, on fresh connections (the first round) and on kept ones (the later rounds).
//   npx node bench/rest-patches.ts [--objects 2500] [--concurrency 100] [--rounds 4] [--module runtime/fence.ts]
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { forEachConcurrently } from '../runtime/concurrency.ts';
import { loadKubeConfig } from '../runtime/load-kubeconfig.ts';
import type { RestClient } from '../runtime/rest.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';

const { values } = parseArgs({
  options: {
    objects: { type: 'string', default: '2500' },
    concurrency: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '4' },
    module: { type: 'string', multiple: true, default: ['runtime/fence.ts'] },
  },
  strict: true,
});
const objects = Number(values.objects);
const concurrency = Number(values.concurrency);
const rounds = Number(values.rounds);
const ns = 'objects';
const base = `/api/v1/namespaces/${ns}/configmaps`;
const names = Array.from({ length: objects }, (_, i) => `object-${i}`);

const cluster = await startTestCluster();
try {
  await cluster.rest.request({
    method: 'POST',
    path: '/api/v1/namespaces',
    body: { metadata: { name: ns } },
  });
  await forEachConcurrently(names, 16, async (name) => {
    await cluster.rest.request({
      method: 'POST',
      path: base,
      body: { metadata: { name }, data: { v: name } },
    });
  });
  const access = await loadKubeConfig({
    flag: cluster.controlPlane.kubeconfigPath,
    env: {},
    home: '/nonexistent',
  });
  const fence = { certain: true, lost: new AbortController().signal, reason: '' };
  let value = 0;
  for (let repeat = 0; repeat < 2; repeat++) {
    for (const module of values.module) {
      const { FencedClient } = (await import(resolve(module))) as {
        FencedClient: new (a: unknown, u: string, f: unknown) => RestClient;
      };
      const rest = new FencedClient(access, 'bench', fence);
      const perRound: string[] = [];
      for (let round = 0; round < rounds; round++) {
        value++;
        const start = process.cpuUsage();
        await forEachConcurrently(names, concurrency, async (name) => {
          await rest.request({
            method: 'PATCH',
            path: `${base}/${name}`,
            contentType: 'application/merge-patch+json',
            accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
            // As the sync's patches (a client without the option parses the answer).
            discardAnswer: true,
            body: { metadata: { labels: { 'drain.bench': String(value) } } },
          });
        });
        const used = process.cpuUsage(start);
        perRound.push((((used.user + used.system) / objects) | 0).toString());
      }
      rest.close();
      console.log(`${module}: µs CPU per patch, round by round: ${perRound.join(' ')}`);
    }
  }
} finally {
  await cluster.stop();
}
