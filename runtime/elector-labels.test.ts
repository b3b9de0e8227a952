import { describe, expect, it } from '@jest/globals';
import { electorLabelsAnnotation, withElectorLabels } from './elector-labels.ts';

describe('withElectorLabels', () => {
  it("puts the holder's labels and records their keys on a Lease that has none", () => {
    expect(withElectorLabels({ name: 'a' }, { ring: 'r', version: 'v2' })).toEqual({
      name: 'a',
      labels: { ring: 'r', version: 'v2' },
      annotations: { [electorLabelsAnnotation]: 'ring,version' },
    });
  });

  it('removes what an earlier holder put and this one does not, and keeps what others put', () => {
    const earlier = withElectorLabels(
      { labels: { 'controller-rings.io/state': 'ready', team: 'x' }, annotations: { note: 'n' } },
      { ring: 'r', version: 'v2', canary: 'yes' },
    );
    expect(withElectorLabels(earlier, { ring: 'r', version: 'v1' })).toEqual({
      labels: { 'controller-rings.io/state': 'ready', team: 'x', ring: 'r', version: 'v1' },
      annotations: { note: 'n', [electorLabelsAnnotation]: 'ring,version' },
    });
  });

  it('keeps a label a person set with a key an earlier holder did not put', () => {
    const lease = { labels: { version: 'pinned' }, annotations: { [electorLabelsAnnotation]: 'ring' } };
    expect(withElectorLabels(lease, { ring: 'r' }).labels).toEqual({ version: 'pinned', ring: 'r' });
  });
});
