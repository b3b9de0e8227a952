// Invariant 5: the sharder's memory does not grow with the number of sharded objects. Runs the sharder as a
// real process on an embedded control plane with one shard, grows a ring's objects in steps, lets the sync
// list them all a few times, and reads the sharder's heap and resident memory after each step.
//   npx node bench/sharder-memory.ts [--steps 1000,5000,20000]
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { forEachConcurrently } from '../runtime/concurrency.ts';
import { FakeShard } from '../test/support/fake-shard.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { createNamespace, createRing } from '../test/support/rings.ts';
import { startSharder, webhookCertificates } from '../test/support/sharder.ts';

const { values } = parseArgs({
  options: { steps: { type: 'string', default: '1000,5000,20000' } },
  strict: true,
});
const steps = values.steps.split(',').map(Number);
const syncPeriodSeconds = 3;

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1]);
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) * 1024;
}

const cluster = await startTestCluster();
const { rest } = cluster;
const rows: string[] = [];
try {
  await createNamespace(rest, 'controller-rings-system');
  await createNamespace(rest, 'objects');
  const sharder = await startSharder({
    kubeconfigPath: cluster.controlPlane.kubeconfigPath,
    namespace: 'controller-rings-system',
    identity: 'sharder-0',
    certificates: await webhookCertificates(),
    args: ['--leader-elect=false', `--sync-period=${syncPeriodSeconds}s`, '--log-level=info'],
  });
  const shard = new FakeShard(rest, {
    ring: 'bench',
    name: 'shard-0',
    namespace: 'objects',
    durationSeconds: 30,
  });
  await shard.join();
  await createRing(rest, 'bench', {
    resources: [{ resource: 'configmaps' }],
    shardLeaseNamespaces: ['objects'],
  });
  let created = 0;
  for (const target of steps) {
    const names = Array.from({ length: target - created }, (_, i) => `object-${created + i}`);
    await forEachConcurrently(names, 16, async (name) => {
      await rest.request({
        method: 'POST',
        path: '/api/v1/namespaces/objects/configmaps',
        body: { metadata: { name }, data: { v: name } },
      });
    });
    created = target;
    // Several full syncs, each listing every object. The heap is sampled throughout: its low point after a
    // collection is what the sharder keeps, its high point what one sync needs on top.
    const heaps: number[] = [];
    const deadline = Date.now() + 4 * syncPeriodSeconds * 1000;
    while (Date.now() < deadline) {
      heaps.push(await metric(sharder.probePort, 'nodejs_heap_size_used_bytes'));
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const resident = await rss(sharder.pid ?? 0);
    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
    rows.push(`| ${target} | ${mib(Math.min(...heaps))} | ${mib(Math.max(...heaps))} | ${mib(resident)} |`);
    console.log(rows.at(-1));
  }
  shard.crash();
  await sharder.stop();
} finally {
  await cluster.stop();
}
console.log(
  ['| objects in the ring | sharder heap used | sharder RSS |', '|---|---|---|', ...rows].join('\n'),
);
