import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import type { LeftOutLease } from '../../sharding/membership.ts';
import { LeftOutLeaseLog } from './left-out-leases.ts';

function log(): { leftOut: LeftOutLeaseLog; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line) as never) });
  return { leftOut: new LeftOutLeaseLog(logger), lines };
}

const untrusted: LeftOutLease = {
  namespace: 'elsewhere',
  name: 'x',
  reason: 'UntrustedNamespace',
  message: 'shard Lease elsewhere/x is ignored: …',
};
const duplicate: LeftOutLease = {
  namespace: 'shards',
  name: 'b',
  reason: 'DuplicateName',
  message: 'shard Lease shards/b is ignored: …',
};

describe('the log of left-out shard Leases', () => {
  it('tells once about each Lease, with ring, lease, reason and message', () => {
    const { leftOut, lines } = log();
    leftOut.report('r', [untrusted]);
    leftOut.report('r', [untrusted, duplicate]);
    leftOut.report('r', [untrusted, duplicate]);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 30,
        msg: 'shard lease left out of the ring',
        ring: 'r',
        lease: 'elsewhere/x',
        reason: 'UntrustedNamespace',
        detail: untrusted.message,
      }),
      expect.objectContaining({ level: 40, ring: 'r', lease: 'shards/b', reason: 'DuplicateName' }),
    ]);
  });

  it('tells again when a Lease comes back, or is left out for another reason', () => {
    const { leftOut, lines } = log();
    leftOut.report('r', [duplicate]);
    leftOut.report('r', []);
    leftOut.report('r', [duplicate]);
    leftOut.report('r', [{ ...duplicate, reason: 'InvalidName' }]);
    expect(lines.map((line) => line.reason)).toEqual(['DuplicateName', 'DuplicateName', 'InvalidName']);
  });

  it('keeps rings apart, and forgets a deleted ring', () => {
    const { leftOut, lines } = log();
    leftOut.report('r', [duplicate]);
    leftOut.report('s', [duplicate]);
    leftOut.forget('r');
    leftOut.report('r', [duplicate]);
    leftOut.report('s', [duplicate]);
    expect(lines.map((line) => line.ring)).toEqual(['r', 's', 'r']);
  });
});
