// Leader election on a real API server: one of two candidates leads, a stopped leader hands over at once by
// releasing its Lease, and a leader stops leading as soon as its Lease has another holder or cannot be renewed.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { LeaderElector, type LeaderElectorOptions } from '../../runtime/leader-election.ts';
import { createLogger } from '../../runtime/logger.ts';
import { microTime } from '../../runtime/micro-time.ts';
import { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { testKubeConfig } from '../support/kube.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';

const namespace = 'runtime-leader-election';
const leases = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases`;
const rest = new RestClient(testKubeConfig());
const logger = createLogger({ level: 'silent' });
const cleanups: (() => Promise<void> | void)[] = [];

/** A candidate, and what its lead() went through: one entry per call, set to 'aborted' when its signal fires. */
interface Candidate {
  elector: LeaderElector;
  terms: ('leading' | 'aborted')[];
}

function candidate(
  name: string,
  identity: string,
  options: Partial<LeaderElectorOptions> = {},
  client: RestClient = rest,
): Candidate {
  const elector = new LeaderElector(client, {
    namespace,
    name,
    identity,
    leaseDurationSeconds: 15,
    renewDeadlineMs: 5_000,
    retryPeriodMs: 200,
    logger,
    ...options,
  });
  const terms: Candidate['terms'] = [];
  const running = elector.run(async (signal) => {
    const term = terms.push('leading') - 1;
    await new Promise((resolve) => {
      signal.addEventListener('abort', resolve, { once: true });
    });
    terms[term] = 'aborted';
  });
  cleanups.push(async () => {
    await elector.stop();
    await running;
  });
  return { elector, terms };
}

async function lease(name: string): Promise<ILease> {
  return rest.request<ILease>({ path: `${leases}/${name}` });
}

beforeAll(async () => {
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: namespace } } });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}` });
  rest.close();
});

describe('LeaderElector on a real API server', () => {
  it('lets one of two candidates lead, and hands over quickly when the leader stops', async () => {
    const a = candidate('handover', 'a', { labels: { 'controller-rings.io/ring': 'test' } });
    const b = candidate('handover', 'b', { labels: { 'controller-rings.io/ring': 'test' } });
    const leader = await eventually(() => {
      const leaders = [a, b].filter(({ elector }) => elector.isLeader);
      expect(leaders).toHaveLength(1);
      return leaders[0] as Candidate;
    });
    const follower = leader === a ? b : a;
    const [leaderIdentity, followerIdentity] = leader === a ? ['a', 'b'] : ['b', 'a'];
    await eventually(() => {
      expect(leader.terms).toEqual(['leading']);
    });
    const held = await lease('handover');
    expect(held.metadata?.labels).toEqual({ 'controller-rings.io/ring': 'test' });
    expect(held.spec).toMatchObject({ holderIdentity: leaderIdentity, leaseDurationSeconds: 15 });
    expect(held.spec?.renewTime).toMatch(/\.\d{6}Z$/);
    const transitions = held.spec?.leaseTransitions ?? 0;

    const stoppedAt = Date.now();
    await leader.elector.stop();
    expect(leader.terms).toEqual(['aborted']);
    expect(leader.elector.isLeader).toBe(false);

    // Far sooner than the 15 s the Lease would take to expire.
    await eventually(
      () => {
        expect(follower.elector.isLeader).toBe(true);
        expect(follower.terms).toEqual(['leading']);
      },
      { timeoutMs: 5_000 },
    );
    expect(Date.now() - stoppedAt).toBeLessThan(5_000);
    const taken = await lease('handover');
    expect(taken.spec).toMatchObject({ holderIdentity: followerIdentity, leaseTransitions: transitions + 1 });
  });

  it('keeps its labels on the Lease: an earlier holder’s that it leaves out go, others’ stay', async () => {
    const ring = { 'controller-rings.io/ring': 'test' };
    const first = candidate('labels', 'first', { labels: { ...ring, version: 'v2', canary: 'yes' } });
    await eventually(() => {
      expect(first.elector.isLeader).toBe(true);
    });
    // As the sharder writes a shard Lease's state.
    await rest.request({
      method: 'PATCH',
      path: `${leases}/labels`,
      contentType: 'application/merge-patch+json',
      body: { metadata: { labels: { 'controller-rings.io/state': 'ready' } } },
    });
    await first.elector.stop();

    // The shard restarted under its name, without --lease-label canary=yes and with another version.
    const second = candidate('labels', 'second', { labels: { ...ring, version: 'v1' } });
    await eventually(() => {
      expect(second.elector.isLeader).toBe(true);
    });
    expect((await lease('labels')).metadata?.labels).toEqual({
      ...ring,
      version: 'v1',
      'controller-rings.io/state': 'ready',
    });
  });

  it('releases the Lease on stop, once lead() has settled', async () => {
    const elector = new LeaderElector(rest, {
      namespace,
      name: 'release',
      identity: 'solo',
      retryPeriodMs: 200,
      logger,
    });
    const holderWhenLeadEnded: string[] = [];
    const running = elector.run(async (signal) => {
      await new Promise((resolve) => {
        signal.addEventListener('abort', resolve, { once: true });
      });
      // Still ours while lead() winds down: nobody else may lead yet.
      holderWhenLeadEnded.push((await lease('release')).spec?.holderIdentity ?? '');
    });
    await eventually(() => {
      expect(elector.isLeader).toBe(true);
    });
    await elector.stop();
    await running;

    expect(holderWhenLeadEnded).toEqual(['solo']);
    expect((await lease('release')).spec).toMatchObject({ holderIdentity: '', leaseDurationSeconds: 1 });
  });

  it('stops leading at once when another holder takes the Lease, and does not take it back before it expires', async () => {
    const leader = candidate('takeover', 'leader', { renewDeadlineMs: 10_000 });
    await eventually(() => {
      expect(leader.terms).toEqual(['leading']);
    });
    const held = await lease('takeover');
    const now = microTime(new Date());
    await rest.request({
      method: 'PUT',
      path: `${leases}/takeover`,
      body: { ...held, spec: { ...held.spec, holderIdentity: 'intruder', acquireTime: now, renewTime: now } },
    });

    // At the next renewal, not after the 10 s renew deadline.
    await eventually(
      () => {
        expect(leader.terms).toEqual(['aborted']);
        expect(leader.elector.isLeader).toBe(false);
      },
      { timeoutMs: 5_000 },
    );
    // Still campaigning, but the intruder's Lease is valid for 15 s.
    await leader.elector.stop();
    expect(leader.terms).toEqual(['aborted']);
    expect((await lease('takeover')).spec?.holderIdentity).toBe('intruder');
  });

  it('takes a Lease that has expired by its own clock', async () => {
    const renewed = microTime(new Date());
    await rest.request({
      method: 'POST',
      path: leases,
      body: {
        metadata: { name: 'expired' },
        spec: {
          holderIdentity: 'crashed',
          leaseDurationSeconds: 15,
          acquireTime: renewed,
          renewTime: renewed,
          leaseTransitions: 3,
        },
      },
    });
    // By the API server's clock the Lease is valid for 15 s more; by the candidate's it expired a second ago.
    const later = (): Date => new Date(Date.now() + 16_000);
    const successor = candidate('expired', 'successor', { now: later });
    await eventually(() => {
      expect(successor.terms).toEqual(['leading']);
    });
    const taken = await lease('expired');
    expect(taken.spec).toMatchObject({ holderIdentity: 'successor', leaseTransitions: 4 });
    expect(Date.parse(taken.spec?.acquireTime ?? '')).toBeGreaterThan(Date.parse(renewed) + 15_000);
  });

  it('gives up leadership when it cannot renew, and leads again once it can', async () => {
    const proxy = await startTcpProxy(testKubeConfig());
    const client = new RestClient(proxy.kubeConfig);
    cleanups.push(
      () => proxy.close(),
      () => {
        client.close();
      },
    );
    const leader = candidate('unreachable', 'cut-off', { renewDeadlineMs: 1_000 }, client);
    await eventually(() => {
      expect(leader.terms).toEqual(['leading']);
    });

    proxy.cut();
    await eventually(() => {
      expect(leader.terms).toEqual(['aborted']);
      expect(leader.elector.isLeader).toBe(false);
    });
    // Nobody else took the Lease: it is still the candidate's own, so it leads again as soon as it gets through.
    proxy.resume();
    await eventually(() => {
      expect(leader.terms).toEqual(['aborted', 'leading']);
      expect(leader.elector.isLeader).toBe(true);
    });
  });
});
