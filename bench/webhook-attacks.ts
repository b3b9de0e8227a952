// What hostile calls of the admission webhook cost a sharder (issue 7, defect 5), before and after its limits.
// Runs the sharder as a real process on an embedded control plane with a ring of two shards, once from a
// checkout of `--before` (git archive into a temp dir) and once from this one, a fresh process per attack,
// and reads its resident memory (/proc) and event-loop delay (nodejs_eventloop_lag_max_seconds) around each:
//   nested:        4 reviews, one after the other, whose object holds 6.7 MB of nested arrays
//   nested-4mib:   the same just under the 4 MiB body limit, which the new decoder reads
//   concurrent:    50 reviews of 6.9 MB (a ConfigMap's data) at once
//   concurrent-4mib: 50 reviews just under 4 MiB at once
//   never-ending:  50 calls that send 1 MiB of a 4 MiB body and then a byte a second, and one ordinary call
//   npx node bench/webhook-attacks.ts [--before main] [--attacks nested,concurrent] [--hold-seconds 30]
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, realpath, rm, symlink } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FakeShard } from '../test/support/fake-shard.ts';
import { startTestCluster } from '../test/support/own-control-plane.ts';
import { createNamespace, createRing } from '../test/support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../test/support/sharder.ts';
import { webhookPath } from '../webhook/path.ts';
import { residentBytes } from './support/proc.ts';

const attacks = ['nested', 'nested-4mib', 'concurrent', 'concurrent-4mib', 'never-ending'] as const;
type Attack = (typeof attacks)[number];

const { values } = parseArgs({
  options: {
    before: { type: 'string', default: 'main' },
    attacks: { type: 'string', default: attacks.join(',') },
    'hold-seconds': { type: 'string', default: '30' },
  },
  strict: true,
});
const chosen = values.attacks.split(',') as Attack[];
const holdMs = Number(values['hold-seconds']) * 1000;
const ring = 'attacked';
const namespace = 'objects';
const mebibyte = 1024 * 1024;
const justUnderLimit = 4 * mebibyte - 1024;

/** A CREATE review of a ConfigMap named `name` whose `data` is the JSON `data`. */
function review(name: string, data: string): Buffer {
  const text = JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: name,
      kind: { group: '', version: 'v1', kind: 'ConfigMap' },
      resource: { group: '', version: 'v1', resource: 'configmaps' },
      namespace,
      operation: 'CREATE',
      object: { metadata: { name, namespace }, data: null },
    },
  });
  return Buffer.from(text.replace('"data":null', `"data":${data}`));
}

function nested(bytes: number): Buffer {
  const depth = Math.floor((bytes - review('nested', 'null').length) / 2);
  return review('nested', '['.repeat(depth) + ']'.repeat(depth));
}

function large(bytes: number): Buffer {
  const padding = bytes - review('large', '{"blob":""}').length;
  return review('large', `{"blob":"${'x'.repeat(padding)}"}`);
}

interface Target {
  port: number;
  ca: string;
}

/** Sends `body` (or its first `sent` bytes, then one more a second until the server ends the call). */
async function call(
  target: Target,
  body: Buffer,
  sent = body.length,
): Promise<{ status: number | string; ms: number }> {
  const started = performance.now();
  const outgoing = request({
    host: '127.0.0.1',
    port: target.port,
    path: webhookPath(ring),
    method: 'POST',
    ca: target.ca,
    agent: false,
    headers: { 'content-type': 'application/json', 'content-length': body.length },
  });
  // Writes after the server closed the call fail too: only the first error tells.
  outgoing.on('error', () => undefined);
  const failed = once(outgoing, 'error').then(([error]) => (error as NodeJS.ErrnoException).code ?? 'error');
  let trickle: NodeJS.Timeout | undefined;
  let giveUp: NodeJS.Timeout | undefined;
  if (sent < body.length) {
    outgoing.write(body.subarray(0, sent));
    let next = sent;
    trickle = setInterval(() => outgoing.write(body.subarray(next, ++next)), 1_000);
    giveUp = setTimeout(() => outgoing.destroy(new Error('held')), holdMs);
  } else {
    outgoing.end(body);
  }
  const answered = once(outgoing, 'response').then(async ([response]) => {
    (response as IncomingMessage).resume();
    await once(response as IncomingMessage, 'end');
    return (response as IncomingMessage).statusCode ?? 0;
  });
  const status = await Promise.race([answered, failed]);
  clearInterval(trickle);
  clearTimeout(giveUp);
  return {
    status: outgoing.destroyed && status === 'error' ? 'held' : status,
    ms: performance.now() - started,
  };
}

async function lagMaxSeconds(probePort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${probePort}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('nodejs_eventloop_lag_max_seconds '));
  return Number(line?.split(' ')[1]);
}

interface Measurement {
  rssBefore: number;
  rssPeak: number;
  rssAfter: number;
  lagMax: number;
  seconds: number;
  outcomes: string;
  note: string;
}

async function attack(name: Attack, sharder: SharderProcess, ca: string): Promise<Measurement> {
  const pid = sharder.pid ?? 0;
  const target = { port: sharder.webhookPort, ca };
  const rssBefore = await residentBytes(pid);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    residentBytes(pid).then(
      (rss) => (rssPeak = Math.max(rssPeak, rss)),
      () => undefined, // it exited
    );
  }, 50);
  await lagMaxSeconds(sharder.probePort); // resets the histogram
  const started = performance.now();
  const results: { status: number | string; ms: number }[] = [];
  let note = '';
  switch (name) {
    case 'nested':
    case 'nested-4mib': {
      const body = nested(name === 'nested' ? 6_700_000 : justUnderLimit);
      for (let i = 0; i < 4; i++) results.push(await call(target, body));
      break;
    }
    case 'concurrent':
    case 'concurrent-4mib': {
      const body = large(name === 'concurrent' ? 6_900_000 : justUnderLimit);
      results.push(...(await Promise.all(Array.from({ length: 50 }, () => call(target, body)))));
      break;
    }
    case 'never-ending': {
      const body = large(justUnderLimit);
      const held = Array.from({ length: 50 }, () => call(target, body, mebibyte));
      // An ordinary review while the 50 hang.
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const ordinary = await call(target, review('ordinary', '{"a":"b"}'));
      note = `ordinary call meanwhile: ${String(ordinary.status)} in ${ordinary.ms.toFixed(0)} ms; `;
      results.push(...(await Promise.all(held)));
      const closed = results.filter((r) => r.status !== 'held').map((r) => r.ms / 1000);
      note +=
        closed.length === 0
          ? `none closed by the server within ${holdMs / 1000} s`
          : `${closed.length} closed by the server, the last after ${Math.max(...closed).toFixed(1)} s`;
      break;
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const lagMax = await lagMaxSeconds(sharder.probePort).catch(() => NaN);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  clearInterval(sampler);
  const rssAfter = sharder.running ? await residentBytes(pid) : NaN;
  const counts = new Map<string, number>();
  for (const { status } of results) counts.set(String(status), (counts.get(String(status)) ?? 0) + 1);
  const outcomes = [...counts].map(([status, count]) => `${count}× ${status}`).join(', ');
  return { rssBefore, rssPeak, rssAfter, lagMax, seconds, outcomes, note };
}

/** A copy of the project at `ref`, sharing this checkout's node_modules. */
async function checkout(ref: string): Promise<string> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const dir = await mkdtemp(join(tmpdir(), 'webhook-attacks-before-'));
  const archive = execFileSync('git', ['-C', root, 'archive', ref], { maxBuffer: 1 << 30 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  await symlink(await realpath(join(root, 'node_modules')), join(dir, 'node_modules'));
  return dir;
}

const mib = (bytes: number): string =>
  Number.isNaN(bytes) ? 'exited' : `${(bytes / mebibyte).toFixed(0)} MiB`;
const before = await checkout(values.before);
const cluster = await startTestCluster();
const rows: string[] = [];
const ratios: string[] = [];
// Their renewal timers would keep the benchmark from exiting: they stop with the cluster.
const shards: FakeShard[] = [];
try {
  const { rest } = cluster;
  await createNamespace(rest, 'sharder-system');
  await createNamespace(rest, namespace);
  for (const name of ['a', 'b']) {
    const shard = new FakeShard(rest, { ring, name, namespace: 'sharder-system', durationSeconds: 600 });
    shards.push(shard);
    await shard.join();
  }
  // The ring trusts the namespace of its shards' Leases, so that the reviews that get through are assigned.
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps' }],
    shardLeaseNamespaces: ['sharder-system'],
  });
  const certificates = await webhookCertificates();
  const ca = await readFile(certificates.caFile, 'utf8');
  for (const name of chosen) {
    const measured: Record<string, Measurement> = {};
    for (const [version, program] of [
      [`before (${values.before})`, join(before, 'cmd/sharder/main.ts')],
      ['after', undefined],
    ] as const) {
      const sharder = await startSharder({
        kubeconfigPath: cluster.controlPlane.kubeconfigPath,
        namespace: 'sharder-system',
        identity: 'sharder-0',
        certificates,
        args: ['--leader-elect=false', '--log-level=info'],
        ...(program === undefined ? {} : { program }),
      });
      try {
        const m = await attack(name, sharder, ca);
        measured[version] = m;
        rows.push(
          `| ${name} | ${version} | ${mib(m.rssBefore)} | ${mib(m.rssPeak)} | ${mib(m.rssAfter)} | ${(m.lagMax * 1000).toFixed(0)} ms | ${m.seconds.toFixed(1)} s | ${m.outcomes} | ${m.note} |`,
        );
        console.log(rows.at(-1));
      } finally {
        await sharder.stop();
      }
    }
    const [old, now] = Object.values(measured);
    if (old !== undefined && now !== undefined) {
      const growth = (m: Measurement): number => m.rssPeak - m.rssBefore;
      ratios.push(
        `| ${name} | ${(growth(now) / growth(old)).toFixed(3)} | ${(now.lagMax / old.lagMax).toFixed(3)} | ${(now.seconds / old.seconds).toFixed(3)} |`,
      );
    }
  }
} finally {
  for (const shard of shards) shard.crash();
  await cluster.stop();
  await rm(before, { recursive: true, force: true });
}
console.log(
  [
    '| attack | sharder | RSS before | RSS peak | RSS 3 s after | event-loop delay, max | attack took | answers | |',
    '|---|---|--:|--:|--:|--:|--:|---|---|',
    ...rows,
    '',
    '| attack | peak RSS growth after/before | event-loop delay after/before | attack duration after/before |',
    '|---|--:|--:|--:|',
    ...ratios,
  ].join('\n'),
);
