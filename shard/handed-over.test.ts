import { describe, expect, it } from '@jest/globals';
import { HandedOver } from './handed-over.ts';

describe('HandedOver', () => {
  it('remembers a handover while the cache shows a version up to the one handed over', () => {
    const handedOver = new HandedOver();
    handedOver.add('ns/a', ['5', '7'], '5');
    expect(handedOver.has('ns/a')).toBe(true);
    // The shard's own drain label (version 7) arrives after the handover: still handed over.
    handedOver.observe('updated', 'ns/a', '7');
    expect(handedOver.has('ns/a')).toBe(true);
    expect(handedOver.has('ns/b')).toBe(false);
  });

  it('forgets it when the object leaves the cache', () => {
    const handedOver = new HandedOver();
    handedOver.add('ns/a', ['5'], '5');
    handedOver.observe('deleted', 'ns/a', '5');
    expect(handedOver.has('ns/a')).toBe(false);
  });

  it('forgets it when a later version shows up: the object was given back', () => {
    const handedOver = new HandedOver();
    handedOver.add('ns/a', ['5'], '5');
    handedOver.observe('updated', 'ns/a', '9');
    expect(handedOver.has('ns/a')).toBe(false);
  });

  it('records nothing when the cache has moved on already', () => {
    const handedOver = new HandedOver();
    handedOver.add('ns/a', ['5'], undefined);
    handedOver.add('ns/b', ['5'], '9');
    expect(handedOver.has('ns/a')).toBe(false);
    expect(handedOver.has('ns/b')).toBe(false);
  });
});
