import { describe, expect, it } from '@jest/globals';
import type { RingDescription } from './describe.ts';
import { describeText } from './describe-printing.ts';

const now = new Date('2026-01-10T00:00:00Z');

describe('describeText', () => {
  it('lays out the fields, the shards, the objects per resource and the Leases left out', () => {
    const description: RingDescription = {
      name: 'websites',
      ready: { status: 'True', reason: 'ShardsAvailable', message: '1 of 2 shards', lastTransitionTime: '' },
      generation: 2,
      observedGeneration: 1,
      creationTimestamp: '2026-01-09T23:00:00Z',
      shards: [
        {
          name: 'a',
          namespace: 'shards',
          state: 'ready',
          available: true,
          creationTimestamp: '2026-01-09T23:50:00Z',
          renewTime: '2026-01-09T23:59:58Z',
          objects: { configmaps: { owned: 10, draining: 2 } },
        },
        {
          name: 'b',
          namespace: 'shards',
          state: 'dead',
          available: false,
          creationTimestamp: '2026-01-09T23:50:00Z',
          renewTime: '2026-01-09T23:59:00Z',
          objects: { configmaps: { owned: 0, draining: 0 } },
        },
      ],
      resources: [
        {
          name: 'configmaps',
          group: '',
          resource: 'configmaps',
          controlled: false,
          served: true,
          unassigned: 3,
          otherShards: 1,
        },
        {
          name: 'widgets.example.com',
          group: 'example.com',
          resource: 'widgets',
          controlled: true,
          served: false,
        },
      ],
      ignoredLeases: [
        {
          namespace: 'default',
          name: 'c',
          reason: 'UntrustedNamespace',
          message: 'shard Lease default/c is ignored',
        },
      ],
      events: [
        {
          type: 'Normal',
          reason: 'ShardJoined',
          note: 'shard a joined the ring (Lease shards/a)',
          from: 'controller-rings.io/sharder',
          firstTime: '2026-01-09T23:50:00.000000Z',
          lastTime: '2026-01-09T23:50:00.000000Z',
          count: 1,
        },
        {
          type: 'Warning',
          reason: 'ShardExpired',
          note: 'shard b has not renewed its Lease shards/b in time',
          from: 'controller-rings.io/sharder',
          firstTime: '2026-01-09T23:52:00.000000Z',
          lastTime: '2026-01-09T23:59:30.000000Z',
          count: 4,
        },
      ],
    };
    expect(describeText(description, now)).toBe(
      [
        'Name:        websites',
        'Ready:       True (ShardsAvailable)',
        'Message:     1 of 2 shards',
        'Generation:  2 (observed: 1)',
        'Shards:      1 available of 2',
        'Resources:   configmaps, widgets.example.com (controlled)',
        'Age:         60m',
        '',
        'Shards:',
        '  NAME   STATE   AVAILABLE   LEASE      LEASE AGE   RENEWED',
        '  a      ready   true        shards/a   10m         2s',
        '  b      dead    false       shards/b   10m         60s',
        '',
        'Objects:',
        '  RESOURCE     SHARD            OBJECTS   DRAINING',
        '  configmaps   a                10        2',
        '  configmaps   b                0         0',
        '  configmaps   <other shards>   1',
        '  configmaps   <unassigned>     3',
        '',
        'Not served by the API server: widgets.example.com',
        '',
        'Ignored Leases:',
        '  LEASE       REASON               MESSAGE',
        '  default/c   UntrustedNamespace   shard Lease default/c is ignored',
        '',
        'Events:',
        '  TYPE      REASON         AGE                FROM                          MESSAGE',
        '  Normal    ShardJoined    10m                controller-rings.io/sharder   shard a joined the ring (Lease shards/a)',
        '  Warning   ShardExpired   30s (x4 over 8m)   controller-rings.io/sharder   shard b has not renewed its Lease shards/b in time',
        '',
      ].join('\n'),
    );
  });

  it("gives the split and each shard's side for a ring with spec.canary", () => {
    const shard = { namespace: 'shards', state: 'ready' as const, available: true, objects: {} };
    const text = describeText(
      {
        name: 'websites',
        shards: [
          { ...shard, name: 'a' },
          { ...shard, name: 'c', canary: true },
          { ...shard, name: 'd', state: 'dead', available: false, canary: true },
        ],
        canary: { percent: 10 },
        resources: [],
        ignoredLeases: [],
      },
      now,
    );
    expect(text).toContain('\nCanary:      10 % of the objects, to 1 of 2 canary shards available\n');
    expect(text).toContain(
      [
        '  NAME   STATE   AVAILABLE   SIDE     LEASE      LEASE AGE   RENEWED',
        '  a      ready   true        stable   shards/a   <unknown>   <unknown>',
        '  c      ready   true        canary   shards/c   <unknown>   <unknown>',
        '  d      dead    false       canary   shards/d   <unknown>   <unknown>',
      ].join('\n'),
    );
  });

  it('names the owner of each level of a chain and the chains that the sharder could not follow', () => {
    const level = { group: '', controlled: true, served: false };
    const text = describeText(
      {
        name: 'apps',
        chainsResolved: {
          status: 'False',
          reason: 'OwnerNotFound',
          message: 'pods: 1 object whose owner is missing, e.g. apps/web-1',
          lastTransitionTime: '',
        },
        shards: [],
        resources: [
          { ...level, name: 'deployments.apps', resource: 'deployments', controlled: false },
          { ...level, name: 'replicasets.apps', resource: 'replicasets' },
          { ...level, name: 'pods', resource: 'pods', owner: 'replicasets.apps' },
        ],
        ignoredLeases: [],
      },
      now,
    );
    expect(text).toContain(
      [
        'Chains resolved:  False (OwnerNotFound)',
        'Chains message:   pods: 1 object whose owner is missing, e.g. apps/web-1',
      ].join('\n'),
    );
    expect(text).toContain(
      'Resources:        deployments.apps, replicasets.apps (controlled), pods (controlled by replicasets.apps)\n',
    );
  });

  it('says when a ring has no shards and its status is not written yet', () => {
    const text = describeText({ name: 'empty', shards: [], resources: [], ignoredLeases: [] }, now);
    expect(text).toContain('Ready:       <unknown>\n');
    expect(text).toContain('Generation:  <unknown>\n');
    expect(text).toContain('\nShards: <none>\n');
    // Left out when the Events could not be listed, as kubectl describe does.
    expect(text).not.toContain('Events');
    const none = describeText(
      { name: 'empty', shards: [], resources: [], ignoredLeases: [], events: [] },
      now,
    );
    expect(none).toMatch(/\n\nEvents: <none>\n$/);
  });
});
