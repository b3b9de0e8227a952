import { describe, expect, it } from '@jest/globals';
import { drainLabel, type ControllerRing } from '../api/v1alpha1/index.ts';
import type { RingLease } from '../sharding/membership.ts';
import { assignPatch } from '../sharding/patches.ts';
import { encodePatch } from './admission.ts';
import { RingShardsCache } from './ring-shards.ts';

const ringName = 'web';
const start = new Date('2026-12-01T10:00:00Z');
const ring: ControllerRing = {
  metadata: { name: ringName },
  spec: { resources: [{ group: '', resource: 'configmaps' }], shardLeaseNamespaces: ['shards'] },
};

/** A shard Lease of the ring renewed at `renewed`, for 10 s. */
function lease(name: string, renewed = start): RingLease {
  return {
    metadata: { name, namespace: 'shards', labels: { 'controller-rings.io/ring': ringName } },
    spec: { holderIdentity: name, renewTime: renewed.toISOString(), leaseDurationSeconds: 10 },
  };
}

const later = (seconds: number): Date => new Date(start.getTime() + seconds * 1000);

describe('RingShardsCache', () => {
  it('answers the same shards while the ring, its Leases and their states are unchanged', () => {
    const cache = new RingShardsCache();
    const leases = [lease('a'), lease('b')];
    const first = cache.of(ringName, ring, leases, start);
    expect(first.available).toEqual(['a', 'b']);
    // A new list of the same objects, as the informer lists them on every call.
    expect(cache.of(ringName, ring, [...leases], later(5))).toBe(first);
  });

  it('computes them anew when a Lease is replaced, added or removed', () => {
    const cache = new RingShardsCache();
    const a = lease('a');
    const first = cache.of(ringName, ring, [a, lease('b')], start);
    // b renewed and given up: the same name, a new object without a holder.
    const released: RingLease = { ...lease('b'), spec: { leaseDurationSeconds: 10 } };
    expect(cache.of(ringName, ring, [a, released], later(1)).available).toEqual(['a']);
    expect(cache.of(ringName, ring, [a, released, lease('c')], later(1)).available).toEqual(['a', 'c']);
    expect(cache.of(ringName, ring, [a], later(1)).available).toEqual(['a']);
    expect(first.available).toEqual(['a', 'b']);
  });

  it('computes them anew when a shard changes state with time', () => {
    const cache = new RingShardsCache();
    const leases = [lease('a'), lease('b', later(-30))];
    // b expired 20 s ago and has been uncertain since 10 s ago (still available); a is ready until 10 s.
    const first = cache.of(ringName, ring, leases, start);
    expect(first.available).toEqual(['a', 'b']);
    expect(cache.of(ringName, ring, leases, later(9.999))).toBe(first);
    const expired = cache.of(ringName, ring, leases, later(10));
    expect(expired).not.toBe(first);
    expect(expired.available).toEqual(['a', 'b']);
  });

  it('computes them anew when the ring is replaced', () => {
    const cache = new RingShardsCache();
    const leases = [
      lease('a'),
      { ...lease('b', start), metadata: { ...lease('b').metadata, namespace: 'other' } },
    ];
    expect(cache.of(ringName, ring, leases, start).available).toEqual(['a']);
    const trusting: ControllerRing = {
      ...ring,
      spec: { ...ring.spec, shardLeaseNamespaces: ['shards', 'other'] },
    };
    expect(cache.of(ringName, trusting, leases, start).available).toEqual(['a', 'b']);
  });

  it("encodes each assignment's patch as assignPatch makes it, for each shape of the labels", () => {
    const shards = new RingShardsCache().of(ringName, ring, [lease('a')], start);
    const drain = drainLabel(ringName);
    const shapes: (Record<string, string> | undefined)[] = [
      undefined,
      {},
      { app: 'x' },
      { app: 'x', [drain]: 'true' },
    ];
    // Twice each: encoded, then kept.
    for (const labels of [...shapes, ...shapes]) {
      expect(shards.patch('a', labels)).toBe(encodePatch(assignPatch(ringName, 'a', labels)));
    }
    expect(shards.patch('b', undefined)).toBe(encodePatch(assignPatch(ringName, 'b', undefined)));
  });
});
