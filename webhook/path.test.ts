import { describe, expect, it } from '@jest/globals';
import { ringOfPath, webhookPath } from './path.ts';

describe('webhook paths', () => {
  it("serve each ring's webhook under one prefix", () => {
    expect(webhookPath('web')).toBe('/webhooks/sharder/controllerring/web');
    expect(ringOfPath('/webhooks/sharder/controllerring/web')).toBe('web');
  });

  it('name rings that are DNS-1123 labels only', () => {
    expect(ringOfPath(webhookPath('a'.repeat(63)))).toBe('a'.repeat(63));
    for (const ring of ['', 'a'.repeat(64), 'Web', '-web', 'web-', 'web.shop', 'web/shop']) {
      expect(ringOfPath(webhookPath(ring))).toBeUndefined();
    }
    expect(ringOfPath('/webhooks/sharder/web')).toBeUndefined();
  });
});
