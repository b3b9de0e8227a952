import { describe, expect, it } from '@jest/globals';
import type { ControllerRing } from '../../api/v1alpha1/index.ts';
import { printRings } from './get.ts';

const now = new Date('2026-01-10T00:00:00Z');
const ring = (name: string, status?: ControllerRing['status']): ControllerRing => ({
  apiVersion: 'sharding.controller-rings.io/v1alpha1',
  kind: 'ControllerRing',
  metadata: { name, creationTimestamp: '2026-01-09T22:00:00Z' },
  spec: { resources: [{ resource: 'configmaps' }] },
  ...(status === undefined ? {} : { status }),
});
const ready = (status: 'True' | 'False') => ({
  type: 'Ready',
  status,
  reason: 'ShardsAvailable',
  message: '',
  lastTransitionTime: '2026-01-09T22:00:00Z',
});

describe('printRings', () => {
  it("prints the CRD's columns, blank where the sharder has written no status yet", () => {
    const rings = [
      ring('websites', { shards: 3, availableShards: 2, conditions: [ready('True')] }),
      ring('new-ring'),
    ];
    expect(printRings(rings, [], 'table', now)).toBe(
      [
        'NAME       READY   AVAILABLE   SHARDS   AGE',
        'websites   True    2           3        120m',
        'new-ring                                120m',
        '',
      ].join('\n'),
    );
    expect(printRings([], [], 'table', now)).toBe('');
  });

  it('prints the object for one name asked for, else a List', () => {
    const websites = ring('websites');
    expect(JSON.parse(printRings([websites], ['websites'], 'json', now))).toEqual(websites);
    expect(JSON.parse(printRings([websites], [], 'json', now))).toEqual({
      apiVersion: 'v1',
      kind: 'List',
      items: [websites],
      metadata: { resourceVersion: '' },
    });
    expect(printRings([], ['missing'], 'json', now)).toBe('');
  });
});
