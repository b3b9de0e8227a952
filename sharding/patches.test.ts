import { describe, expect, it } from '@jest/globals';
import { assignPatch, drainAcknowledgementPatch, drainPatch, movePatch } from './patches.ts';

describe('assignPatch (admission, JSON Patch)', () => {
  it('creates the labels of an object that has none', () => {
    expect(assignPatch('ring', 'shard-a', undefined)).toEqual([
      { op: 'add', path: '/metadata/labels', value: { 'shard.controller-rings.io/ring': 'shard-a' } },
    ]);
  });

  it('adds the shard label beside existing labels, its key escaped as a JSON Pointer', () => {
    expect(assignPatch('ring', 'shard-a', { app: 'web' })).toEqual([
      { op: 'add', path: '/metadata/labels/shard.controller-rings.io~1ring', value: 'shard-a' },
    ]);
  });

  it('escapes ~ before /, so that an escaped / is not read back as ~', () => {
    expect(assignPatch('x~1', 'shard-a', {})).toEqual([
      { op: 'add', path: '/metadata/labels/shard.controller-rings.io~1x~01', value: 'shard-a' },
    ]);
  });

  it('removes a drain label left on the object', () => {
    expect(assignPatch('ring', 'shard-a', { 'drain.controller-rings.io/ring': 'true' })).toEqual([
      { op: 'add', path: '/metadata/labels/shard.controller-rings.io~1ring', value: 'shard-a' },
      { op: 'remove', path: '/metadata/labels/drain.controller-rings.io~1ring' },
    ]);
  });
});

describe('merge patches, each with the listed resourceVersion as precondition', () => {
  const unassign = {
    metadata: {
      resourceVersion: '42',
      labels: { 'shard.controller-rings.io/ring': null, 'drain.controller-rings.io/ring': null },
    },
  };

  it('move (sharder) sets the new shard and removes the drain label', () => {
    expect(movePatch('ring', 'shard-b', '42')).toEqual({
      metadata: {
        resourceVersion: '42',
        labels: { 'shard.controller-rings.io/ring': 'shard-b', 'drain.controller-rings.io/ring': null },
      },
    });
  });

  it('drain (sharder) adds the drain label', () => {
    expect(drainPatch('ring', '42')).toEqual({
      metadata: { resourceVersion: '42', labels: { 'drain.controller-rings.io/ring': 'true' } },
    });
  });

  it('drain acknowledgement (shard) removes the shard and drain labels', () => {
    expect(drainAcknowledgementPatch('ring', '42')).toEqual(unassign);
  });

  it('serialize removals as null, which a merge patch reads as "delete"', () => {
    expect(JSON.stringify(drainAcknowledgementPatch('ring', '42'))).toBe(
      '{"metadata":{"resourceVersion":"42","labels":{"shard.controller-rings.io/ring":null,"drain.controller-rings.io/ring":null}}}',
    );
  });
});
