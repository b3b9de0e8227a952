import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import type { ControllerRing } from '../../api/v1alpha1/index.ts';
import type { RingLease } from '../../sharding/membership.ts';
import type { SyncReport } from '../../controllers/sync/reconciler.ts';
import { sharderMetrics } from './metrics.ts';

const now = new Date('2026-12-01T10:00:00Z');

/** The samples of the text exposition, by series (name and labels as exposed). */
async function samples(registry: Registry): Promise<Map<string, number>> {
  const text = await registry.metrics();
  const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  return new Map(
    lines.map((line) => {
      const space = line.lastIndexOf(' ');
      return [line.slice(0, space), Number(line.slice(space + 1))];
    }),
  );
}

function ring(name: string, extra: Partial<ControllerRing> = {}): ControllerRing {
  return {
    apiVersion: 'sharding.controller-rings.io/v1alpha1',
    kind: 'ControllerRing',
    metadata: { name, generation: 1 },
    spec: { resources: [{ resource: 'configmaps' }] },
    ...extra,
  };
}

/** A shard Lease of `ringName` in `default`, renewed `secondsAgo` with a 10 s duration. */
function lease(
  ringName: string,
  name: string,
  secondsAgo: number,
  holder = name,
  namespace = 'default',
): RingLease {
  return {
    metadata: { name, namespace, labels: { 'controller-rings.io/ring': ringName } },
    spec: {
      holderIdentity: holder,
      renewTime: new Date(now.getTime() - secondsAgo * 1000).toISOString(),
      leaseDurationSeconds: 10,
    },
  };
}

function report(ringName: string, extra: Partial<SyncReport> = {}): SyncReport {
  return {
    ring: ringName,
    shards: ['a'],
    previousShards: undefined,
    examined: 0,
    moved: 0,
    drained: 0,
    unassigned: 0,
    unresolved: 0,
    unresolvedChains: [],
    generation: 1,
    pending: 0,
    seconds: 0.5,
    ...extra,
  };
}

function setup() {
  const registry = new Registry();
  const state = {
    rings: [] as ControllerRing[],
    leases: [] as RingLease[],
    leading: true,
  };
  const metrics = sharderMetrics(registry, {
    rings: () => state.rings,
    leases: () => state.leases,
    leading: () => state.leading,
    now: () => now,
  });
  return { registry, state, metrics };
}

describe('the ring gauges', () => {
  it('count each ring’s shards by state and its ignored Leases by reason, every state and reason present', async () => {
    const { registry, state } = setup();
    state.rings = [ring('one'), ring('two', { spec: { resources: [], shardLeaseNamespaces: ['shards'] } })];
    state.leases = [
      lease('one', 'ready-1', 1),
      lease('one', 'ready-2', 5),
      lease('one', 'expired', 12),
      lease('one', 'uncertain', 25),
      lease('one', 'released', 1, ''),
      lease('one', 'orphaned', 120, ''),
      lease('one', 'elsewhere', 1, 'elsewhere', 'other'),
      lease('one', 'Not_A-Label-Value-'.repeat(5), 1),
      lease('two', 'twin', 1, 'twin', 'shards'),
      lease('two', 'twin', 1, 'twin', 'shards-too'),
    ];
    const values = await samples(registry);
    for (const [state, count] of Object.entries({
      ready: 2,
      expired: 1,
      uncertain: 1,
      dead: 1,
      orphaned: 1,
    })) {
      expect(values.get(`controller_rings_ring_shards{ring="one",state="${state}"}`)).toBe(count);
    }
    for (const state of ['ready', 'expired', 'uncertain', 'dead', 'orphaned']) {
      expect(values.get(`controller_rings_ring_shards{ring="two",state="${state}"}`)).toBe(
        state === 'ready' ? 1 : 0,
      );
    }
    const ignored = (name: string, reason: string) =>
      values.get(`controller_rings_ring_ignored_leases{ring="${name}",reason="${reason}"}`);
    expect([
      ignored('one', 'UntrustedNamespace'),
      ignored('one', 'InvalidName'),
      ignored('one', 'DuplicateName'),
    ]).toEqual([1, 1, 0]);
    // shards-too is not trusted by ring two: its twin in shards is no duplicate then.
    expect([
      ignored('two', 'UntrustedNamespace'),
      ignored('two', 'InvalidName'),
      ignored('two', 'DuplicateName'),
    ]).toEqual([1, 0, 0]);
  });

  it('report generation, observed generation and readiness, and follow the cache from scrape to scrape', async () => {
    const { registry, state } = setup();
    state.rings = [ring('one', { metadata: { name: 'one', generation: 3 } })];
    let values = await samples(registry);
    expect(values.get('controller_rings_ring_generation{ring="one"}')).toBe(3);
    expect(values.get('controller_rings_ring_observed_generation{ring="one"}')).toBe(0);
    expect(values.get('controller_rings_ring_ready{ring="one"}')).toBe(0);
    state.rings = [
      ring('one', {
        metadata: { name: 'one', generation: 4 },
        status: {
          observedGeneration: 4,
          conditions: [
            { type: 'Ready', status: 'True', reason: 'Ready', message: '', lastTransitionTime: '' },
          ],
        },
      }),
    ];
    values = await samples(registry);
    expect(values.get('controller_rings_ring_generation{ring="one"}')).toBe(4);
    expect(values.get('controller_rings_ring_observed_generation{ring="one"}')).toBe(4);
    expect(values.get('controller_rings_ring_ready{ring="one"}')).toBe(1);
  });
});

describe('the sync and webhook metrics', () => {
  it('give every ring its sync series at 0 from the start, so that rate() sees the first sync', async () => {
    const { registry, state } = setup();
    state.rings = [ring('one')];
    const values = await samples(registry);
    expect(values.get('controller_rings_syncs_total{ring="one",result="success"}')).toBe(0);
    expect(values.get('controller_rings_syncs_total{ring="one",result="error"}')).toBe(0);
    expect(values.get('controller_rings_sync_objects_examined_total{ring="one"}')).toBe(0);
    expect(values.get('controller_rings_sync_actions_total{ring="one",action="move"}')).toBe(0);
    expect(values.get('controller_rings_sync_actions_total{ring="one",action="drain"}')).toBe(0);
    expect(values.get('controller_rings_sync_duration_seconds_count{ring="one"}')).toBe(0);
    // Only a sync that went through says how many objects it left unassigned.
    expect(values.has('controller_rings_sync_unassigned_objects{ring="one"}')).toBe(false);
  });

  it('count syncs by result, their objects and actions, and keep the last complete sync’s unassigned objects', async () => {
    const { registry, state, metrics } = setup();
    state.rings = [ring('one')];
    await samples(registry);
    metrics.sync.acted?.('one', 'drain');
    metrics.sync.acted?.('one', 'drain');
    metrics.sync.acted?.('one', 'move');
    metrics.sync.finished?.(report('one', { examined: 10, unassigned: 4, seconds: 2 }));
    metrics.sync.finished?.(report('one', { examined: 3, unassigned: 1, error: new Error('refused') }));
    const values = await samples(registry);
    expect(values.get('controller_rings_syncs_total{ring="one",result="success"}')).toBe(1);
    expect(values.get('controller_rings_syncs_total{ring="one",result="error"}')).toBe(1);
    expect(values.get('controller_rings_sync_objects_examined_total{ring="one"}')).toBe(13);
    expect(values.get('controller_rings_sync_actions_total{ring="one",action="drain"}')).toBe(2);
    expect(values.get('controller_rings_sync_actions_total{ring="one",action="move"}')).toBe(1);
    expect(values.get('controller_rings_sync_duration_seconds_count{ring="one"}')).toBe(2);
    expect(values.get('controller_rings_sync_duration_seconds_sum{ring="one"}')).toBe(2.5);
    expect(values.get('controller_rings_sync_unassigned_objects{ring="one"}')).toBe(4);
  });

  it('report unassigned objects only while leading', async () => {
    const { registry, state, metrics } = setup();
    state.rings = [ring('one')];
    metrics.sync.finished?.(report('one', { unassigned: 4 }));
    expect((await samples(registry)).get('controller_rings_sync_unassigned_objects{ring="one"}')).toBe(4);
    state.leading = false;
    expect((await samples(registry)).has('controller_rings_sync_unassigned_objects{ring="one"}')).toBe(false);
  });

  it('report the objects whose chain of controllers has no root, from the last complete sync, while leading', async () => {
    const { registry, state, metrics } = setup();
    state.rings = [ring('one')];
    const series = 'controller_rings_sync_unresolved_objects{ring="one"}';
    metrics.sync.finished?.(report('one', { unresolved: 3 }));
    expect((await samples(registry)).get(series)).toBe(3);
    metrics.sync.finished?.(report('one', { unresolved: 1, error: new Error('refused') }));
    expect((await samples(registry)).get(series)).toBe(3);
    state.leading = false;
    expect((await samples(registry)).has(series)).toBe(false);
  });

  it('leave no series of a deleted ring', async () => {
    const { registry, state, metrics } = setup();
    state.rings = [ring('gone'), ring('kept')];
    state.leases = [lease('gone', 'a', 1)];
    metrics.webhook.request('gone', 'assigned', 200, 0.001);
    metrics.webhook.request('gone', 'error', 500, 0.001);
    metrics.webhook.request('kept', 'assigned', 200, 0.001);
    metrics.sync.acted?.('gone', 'drain');
    metrics.sync.finished?.(report('gone', { unassigned: 2 }));
    const before = [...(await samples(registry)).keys()];
    expect(before.filter((series) => series.includes('ring="gone"')).length).toBeGreaterThan(20);
    state.rings = [ring('kept')];
    const after = [...(await samples(registry)).keys()];
    expect(after.filter((series) => series.includes('ring="gone"'))).toEqual([]);
    expect(after).toContain(
      'controller_rings_webhook_requests_total{ring="kept",result="assigned",code="200"}',
    );
    expect(after).toContain('controller_rings_ring_shards{ring="kept",state="ready"}');
    // A ring created again under the name starts from 0.
    state.rings = [ring('gone'), ring('kept')];
    const again = await samples(registry);
    expect(again.get('controller_rings_sync_actions_total{ring="gone",action="drain"}')).toBe(0);
    expect(
      again.has('controller_rings_webhook_requests_total{ring="gone",result="assigned",code="200"}'),
    ).toBe(false);
  });
});
