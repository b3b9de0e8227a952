// The adapter for existing client-node controllers (shard/adapter.ts, docs/adapter.md): the guide's two
// versions of one controller, test/fixtures/adapter/unsharded.ts and sharded.ts, differ by at most 15 lines
// (counted with diff), and both run as real processes against a real API server: the unsharded one alone
// reconciles every ConfigMap of its namespace; the sharded one as 3 shards of a ring that a real sharder serves,
// through the join of a third shard and the SIGKILL of one, ends with every object on the shard the hash ring
// of the live shards wants, reconciled by it, and with no move taken for a deletion. And the adapter's guard,
// in process: its verdicts, a drain acknowledged once, moves told from deletions, and the lost Lease.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig, type V1ConfigMap } from '@kubernetes/client-node';
import { pino } from 'pino';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { drainLabel, drainValue, shardLabel } from '../../api/v1alpha1/index.ts';
import { patchTypes, type RestClient } from '../../runtime/rest.ts';
import { ShardAdapter } from '../../shard/index.ts';
import { HashRing } from '../../sharding/ring.ts';
import { ManagedProcess } from '../control-plane/process.ts';
import { eventually } from '../support/eventually.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace, createRing, listObjects } from '../support/rings.ts';
import { startSharder, webhookCertificates, type SharderProcess } from '../support/sharder.ts';

const run = promisify(execFile);
const fixtures = fileURLToPath(new URL('../fixtures/adapter/', import.meta.url));
const unsharded = join(fixtures, 'unsharded.ts');
const sharded = join(fixtures, 'sharded.ts');
const reconciledBy = 'adapter.example.com/reconciled-by';
const objectCount = 30;

let cluster: TestCluster | undefined;
let sharder: SharderProcess | undefined;
let logs: string;
const processes: ManagedProcess[] = [];

function rest(): RestClient {
  if (cluster === undefined) throw new Error('no cluster');
  return cluster.rest;
}

/** One controller process; `args` after the kubeconfig. */
function controller(program: string, name: string, args: string[]): ManagedProcess {
  const child = new ManagedProcess(
    name,
    process.execPath,
    [program, `--kubeconfig=${cluster?.controlPlane.kubeconfigPath ?? ''}`, `--name=${name}`, ...args],
    join(logs, `${name}.log`),
  );
  processes.push(child);
  return child;
}

async function createConfigMaps(namespace: string): Promise<void> {
  for (let i = 0; i < objectCount; i++) {
    await rest().request({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      body: { metadata: { name: `object-${i}` } },
    });
  }
}

async function configMaps(namespace: string) {
  const objects = await listObjects(rest(), `/api/v1/namespaces/${namespace}/configmaps`);
  return objects.filter(({ metadata }) => metadata.name?.startsWith('object-'));
}

beforeAll(async () => {
  logs = await mkdtemp(join(tmpdir(), 'adapter-test-'));
  cluster = await startTestCluster();
}, 120_000);

afterAll(async () => {
  await Promise.all(processes.map((child) => child.kill()));
  await sharder?.stop();
  await cluster?.stop();
  await rm(logs, { recursive: true, force: true });
});

describe('the guide', () => {
  it('shards the controller with at most 15 changed lines', async () => {
    // diff exits 1 when the files differ.
    const { stdout } = await run('diff', [unsharded, sharded]).catch((error: unknown) => {
      return error as { stdout: string };
    });
    const changed = stdout.split('\n').filter((line) => /^[<>] /.test(line));
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.length).toBeLessThanOrEqual(15);
    // The guide shows that very diff, importing the package where the fixture imports the sources.
    const guide = await readFile(fileURLToPath(new URL('../../docs/adapter.md', import.meta.url)), 'utf8');
    for (const line of changed) {
      const shown = line.slice(2).replace("'../../../shard/index.ts'", "'controller-rings/shard'");
      expect(guide).toContain(`\n${line.startsWith('<') ? '-' : '+'}${shown}\n`);
    }
  });
});

describe('the guard', () => {
  const guarded = 'guarded';
  const namespace = 'adapter-guard';
  const configMaps = { group: '', resource: 'configmaps' };
  let adapter: ShardAdapter;
  const lost = jest.fn();

  async function configMap(name: string, labels: Record<string, string>): Promise<V1ConfigMap> {
    const path = `/api/v1/namespaces/${namespace}/configmaps`;
    return rest().request<V1ConfigMap>({ method: 'POST', path, body: { metadata: { name, labels } } });
  }

  beforeAll(async () => {
    await createNamespace(rest(), namespace);
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cluster?.controlPlane.kubeconfigPath ?? '');
    adapter = new ShardAdapter({
      ring: guarded,
      name: 'g-0',
      namespace,
      kubeConfig,
      leaseDurationSeconds: 3,
      logger: pino({ level: 'silent' }),
    });
    adapter.onLost(lost);
  });

  afterAll(() => adapter.stop());

  it('says what a work item does with an object, acknowledges drains once, and tells moves from deletions', async () => {
    const mine = await configMap('mine', { [shardLabel(guarded)]: 'g-0' });
    const other = await configMap('other', { [shardLabel(guarded)]: 'g-1' });
    const unlabelled = await configMap('unlabelled', {});
    const draining = await configMap('draining', {
      [shardLabel(guarded)]: 'g-0',
      [drainLabel(guarded)]: drainValue,
    });
    // Without the Lease nothing is this shard's.
    expect(await adapter.guard(configMaps, mine)).toBe('not-mine');

    await adapter.start();
    expect(await adapter.guard(configMaps, mine)).toBe('reconcile');
    expect(await adapter.guard(configMaps, other)).toBe('not-mine');
    expect(await adapter.guard(configMaps, unlabelled)).toBe('not-mine');
    expect(await adapter.guard(configMaps, draining)).toBe('handed-over');
    const handedOver = await rest().request<V1ConfigMap>({
      path: `/api/v1/namespaces/${namespace}/configmaps/draining`,
    });
    expect(handedOver.metadata?.labels ?? {}).toEqual({});
    // A cache that still shows the drained version: handed over already, not written again (that would conflict).
    expect(await adapter.guard(configMaps, draining)).toBe('handed-over');

    // A 'delete' event carries the object's last state on this shard: moved (it still exists) or deleted (it
    // does not, or another object of its name does).
    expect(await adapter.isGone(configMaps, draining)).toBe(false);
    const path = `/api/v1/namespaces/${namespace}/configmaps/unlabelled`;
    await rest().request({ method: 'DELETE', path });
    expect(await adapter.isGone(configMaps, unlabelled)).toBe(true);
    await configMap('unlabelled', {});
    expect(await adapter.isGone(configMaps, unlabelled)).toBe(true);
  });

  it("hands a drained object's controlled objects over first, then the object", async () => {
    const labels = { [shardLabel(guarded)]: 'g-0' };
    const owner = await configMap('owner', { ...labels, [drainLabel(guarded)]: drainValue });
    const reference = { apiVersion: 'v1', kind: 'ConfigMap', name: 'owner', uid: owner.metadata?.uid ?? '' };
    const child = await rest().request<V1ConfigMap>({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/configmaps`,
      body: { metadata: { name: 'child', labels, ownerReferences: [{ ...reference, controller: true }] } },
    });
    expect(await adapter.guard(configMaps, owner, [{ resource: configMaps, objects: [child] }])).toBe(
      'handed-over',
    );
    const read = (name: string) =>
      rest().request<V1ConfigMap>({ path: `/api/v1/namespaces/${namespace}/configmaps/${name}` });
    const [ownerNow, childNow] = await Promise.all([read('owner'), read('child')]);
    expect(ownerNow.metadata?.labels ?? {}).toEqual({});
    expect(childNow.metadata?.labels ?? {}).toEqual({});
    // Written first: the child's last write has the smaller resourceVersion (etcd's revisions only grow).
    expect(Number(childNow.metadata?.resourceVersion)).toBeLessThan(
      Number(ownerNow.metadata?.resourceVersion),
    );
  });

  it('says not-mine and calls the lost-Lease callback once the Lease is taken', async () => {
    // What the sharder does to a shard it gives up on, in effect: another holder.
    await rest().request({
      method: 'PATCH',
      path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/g-0`,
      contentType: patchTypes.merge,
      body: { spec: { holderIdentity: 'someone-else' } },
    });
    await eventually(() => {
      expect(lost).toHaveBeenCalledTimes(1);
    });
    const mine = await rest().request<V1ConfigMap>({
      path: `/api/v1/namespaces/${namespace}/configmaps/mine`,
    });
    expect(await adapter.guard(configMaps, mine)).toBe('not-mine');
  });
});

describe('the unsharded controller', () => {
  const namespace = 'adapter-plain';

  it('reconciles every ConfigMap of its namespace alone, and sees deletions', async () => {
    await createNamespace(rest(), namespace);
    await createConfigMaps(namespace);
    const plain = controller(unsharded, 'plain', [`--namespace=${namespace}`]);
    await eventually(async () => {
      const objects = await configMaps(namespace);
      expect(objects).toHaveLength(objectCount);
      for (const { metadata } of objects) expect(metadata.annotations?.[reconciledBy]).toBe('plain');
    });
    await rest().request({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}/configmaps/object-0` });
    await eventually(async () => {
      expect(await readFile(plain.logPath, 'utf8')).toContain('deleted object-0\n');
    });
    expect(await plain.stop()).toBe(0);
  });
});

describe('the sharded controller', () => {
  const ring = 'annotators';
  const namespace = 'adapter-sharded';

  beforeAll(async () => {
    for (const name of ['sharder-system', namespace]) await createNamespace(rest(), name);
    sharder = await startSharder({
      kubeconfigPath: cluster?.controlPlane.kubeconfigPath ?? '',
      namespace: 'sharder-system',
      identity: 'sharder-0',
      certificates: await webhookCertificates(),
      args: ['--leader-elect=false'],
    });
    await createRing(rest(), ring, {
      resources: [{ resource: 'configmaps' }],
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
      shardLeaseNamespaces: [namespace],
    });
    await createConfigMaps(namespace);
  }, 120_000);

  async function join(name: string): Promise<ManagedProcess> {
    const shard = controller(sharded, name, [`--namespace=${namespace}`, `--ring=${ring}`]);
    await shard.waitUntil(async () => {
      const lease = await rest().request<ILease>({
        path: `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${name}`,
      });
      return lease.spec?.holderIdentity === name;
    }, 30_000);
    return shard;
  }

  /** Every object is on the shard that the hash ring of `shards` wants, and that shard reconciled it last. */
  async function converged(shards: string[]): Promise<Map<string, number>> {
    const desired = new HashRing(shards);
    return eventually(
      async () => {
        const objects = await configMaps(namespace);
        expect(objects).toHaveLength(objectCount);
        const counts = new Map<string, number>();
        for (const { metadata } of objects) {
          const shard = metadata.labels?.[shardLabel(ring)];
          expect(shard).toBe(desired.shardFor(`/ConfigMap/${namespace}/${metadata.name ?? ''}`));
          expect(metadata.annotations?.[reconciledBy]).toBe(shard);
          counts.set(shard ?? '', (counts.get(shard ?? '') ?? 0) + 1);
        }
        return counts;
      },
      // A killed shard's objects move once its Lease expires (15 s).
      { timeoutMs: 60_000 },
    );
  }

  it('runs as 3 shards through a join and a SIGKILL, each object reconciled by its shard', async () => {
    const a = await join('shard-a');
    const b = await join('shard-b');
    expect([...(await converged(['shard-a', 'shard-b'])).keys()].sort()).toEqual(['shard-a', 'shard-b']);

    const c = await join('shard-c');
    const three = await converged(['shard-a', 'shard-b', 'shard-c']);
    expect([...three.keys()].sort()).toEqual(['shard-a', 'shard-b', 'shard-c']);

    await b.kill();
    await converged(['shard-a', 'shard-c']);

    // Objects moved off shard-a and shard-b (to shard-c, then from shard-b), none was deleted: no shard took a
    // move for a deletion.
    for (const shard of [a, b, c]) expect(await readFile(shard.logPath, 'utf8')).not.toMatch(/^deleted /m);
    for (const shard of [a, c]) expect(await shard.stop()).toBe(0);
  }, 240_000);
});
