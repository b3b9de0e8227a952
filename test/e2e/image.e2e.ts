// The image in a running ring: both sharder replicas run from the image as the sharder's Deployment runs them
// (test/support/pod-container.ts: its user and groups, read-only root, the downward API's env, its args, its
// memory limit and the V8 heap limit derived from it), one shard from the image as the example's Deployment
// runs it beside one as a process. The leader's container is killed, the shard's container stopped, new ones
// start; the whole history is judged against the invariants. The image is built from this checkout first
// (hack/build-image.sh; seconds when nothing changed): a machine without podman fails here, saying so.
import { readFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { nodeOptions } from '../../cdk8s/sharder.ts';
import { buildImage, podmanRunFlags } from '../support/container.ts';
import { sharderPod } from '../support/image-pods.ts';
import { memoryBytes } from '../support/pod-container.ts';
import { EndToEnd, leaseDurationSeconds } from './harness.ts';
import { bounds, expectInvariants, started } from './judge.ts';

const run = promisify(execFile);
const objects = Array.from({ length: 60 }, (_, i) => `config-${i}`);
const limits = bounds(leaseDurationSeconds);
let image = '';
let e2e: EndToEnd | undefined;
jest.setTimeout(120_000);

beforeAll(async () => {
  image = await buildImage();
  e2e = await EndToEnd.start({ sharderImage: image });
  await e2e.startShard('shard-a');
  await e2e.startShard('shard-b', image);
  await e2e.createObjects(objects);
  await e2e.converged();
}, 240_000);

afterAll(async () => {
  await e2e?.stop();
}, 60_000);

/** What the kernel says about a process: its user and groups (/proc/<pid>/status), env and memory cgroup. */
async function processFacts(pid: number) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) =>
    (new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1] ?? '').split(/\s+/).filter((v) => v !== '');
  const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
  const cgroups = (await readFile(`/proc/${pid}/cgroup`, 'utf8')).split('\n');
  // cgroup v1 (hybrid, as here) has a memory hierarchy of its own; v2 one unified hierarchy.
  const v1 = cgroups.map((line) => /^\d+:memory:(.*)$/.exec(line)?.[1]).find((path) => path !== undefined);
  const v2 = cgroups.map((line) => /^0::(.*)$/.exec(line)?.[1]).find((path) => path !== undefined);
  const [limitFile, usageFile] =
    v1 === undefined
      ? [`/sys/fs/cgroup${v2 ?? ''}/memory.max`, `/sys/fs/cgroup${v2 ?? ''}/memory.current`]
      : [
          `/sys/fs/cgroup/memory${v1}/memory.limit_in_bytes`,
          `/sys/fs/cgroup/memory${v1}/memory.usage_in_bytes`,
        ];
  return {
    uid: field('Uid')[0],
    gid: field('Gid')[0],
    groups: field('Groups'),
    nodeOptions: environ.find((entry) => entry.startsWith('NODE_OPTIONS=')),
    podName: environ.find((entry) => entry.startsWith('POD_NAME=')),
    memoryLimit: Number((await readFile(limitFile, 'utf8')).trim()),
    memoryUsage: Number((await readFile(usageFile, 'utf8')).trim()),
    rssKiB: Number(field('VmRSS')[0]),
  };
}

describe('the image', () => {
  it('runs the sharder without a command: its flags are the arguments', async () => {
    const { stdout } = await run('podman', ['run', '--rm', ...podmanRunFlags(), image, '--help']);
    expect(stdout).toMatch(/^usage: sharder /);
  });

  it('runs each sharder replica as its Deployment does: user 65532, read-only root, env, memory and heap limit', async () => {
    const env = started(e2e);
    const { container } = sharderPod();
    const memoryLimit = container.resources?.limits?.memory ?? '';
    for (const [identity, replica] of env.sharders) {
      const facts = await processFacts(replica.pid ?? 0);
      console.log(
        `${identity} in its container: ${Math.round(facts.rssKiB / 1024)} MiB resident, cgroup ` +
          `${Math.round(facts.memoryUsage / 2 ** 20)} of ${Math.round(facts.memoryLimit / 2 ** 20)} MiB`,
      );
      expect(facts).toMatchObject({
        uid: '65532',
        gid: '65532',
        groups: ['65532'],
        nodeOptions: `NODE_OPTIONS=${nodeOptions(memoryLimit)}`,
        podName: `POD_NAME=${identity}`,
        memoryLimit: memoryBytes(memoryLimit),
      });
      const name = (replica as { containerName?: string }).containerName ?? '';
      // The root file system refuses writes, and there is no tmpfs on /tmp either.
      const write = run('podman', ['exec', name, 'node', '-e', "require('fs').writeFileSync('/tmp/x', '')"]);
      await expect(write).rejects.toMatchObject({ stderr: expect.stringContaining('EROFS') });
    }
  });

  it('the leader container killed, a shard container stopped and new ones started: the ring converges and keeps its invariants', async () => {
    const env = started(e2e);
    await env.withChurn(objects, async () => {
      const leader = await env.sharderLeader();
      await env.killSharder(leader);
      // SIGTERM through podman stop: the shard leaves the ring and exits 0 (stopShard fails otherwise).
      await env.stopShard('shard-b');
      await env.startShard('shard-c', image);
      await env.startSharder('sharder-2');
      await env.converged();
    });
    await env.converged();
    await expectInvariants(env, 'sharder replicas and a shard from the image', limits);
  });
});
