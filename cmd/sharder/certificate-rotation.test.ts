import { describe, expect, it } from '@jest/globals';
import {
  nextRotation,
  type Authority,
  type ManagedCertificateState,
  type RotationTiming,
} from './certificate-rotation.ts';

const hour = 3_600_000;
const day = 24 * hour;
// The defaults: CA 1 year, serving certificate 90 days; the propagation is the 30 s reload period.
const timing: RotationTiming = {
  caValidityMs: 365 * day,
  certificateValidityMs: 90 * day,
  propagationMs: 30_000,
};
const now = new Date('2027-06-01T00:00:00Z');
const at = (ms: number): Date => new Date(now.getTime() + ms);

const ca = (id: string, leftMs: number, signs = true): Authority => ({ id, notAfter: at(leftMs), signs });
const old = ca('old', 200 * day);
const fresh = ca('new', 365 * day);

function state(
  authorities: Authority[],
  serving: Partial<ManagedCertificateState['serving']> = {},
): ManagedCertificateState {
  return { authorities, serving: { notAfter: at(80 * day), issuer: 'old', namesMatch: true, ...serving } };
}

const never = (): undefined => undefined;
/** Every webhook configuration has trusted these CAs for `ms`. */
const trustedFor =
  (ms: number, ...ids: string[]) =>
  (id: string): Date | undefined =>
    ids.includes(id) ? at(-ms) : undefined;

describe('nextRotation', () => {
  it('keeps a CA with more than a third of its validity left and a certificate far from expiry', () => {
    const young = ca('old', 200 * day);
    expect(nextRotation(now, state([young]), trustedFor(day, 'old'), timing)).toEqual({ action: 'keep' });
  });

  it('adds a CA once the newest has a third of its validity left, beside the old one', () => {
    const ageing = ca('old', (365 * day) / 3 - 1);
    expect(nextRotation(now, state([ageing]), trustedFor(day, 'old'), timing)).toEqual({
      action: 'add-authority',
    });
    // Not again once the new one is in the bundle: the served certificate stays until the new CA is trusted.
    expect(nextRotation(now, state([ageing, fresh]), trustedFor(day, 'old'), timing)).toEqual({
      action: 'keep',
    });
  });

  it('adds a CA when none in the bundle can sign (no key in the Secret, or expired)', () => {
    expect(nextRotation(now, state([ca('old', 300 * day, false)]), never, timing)).toEqual({
      action: 'add-authority',
    });
    expect(nextRotation(now, state([ca('old', -1)]), never, timing)).toEqual({ action: 'add-authority' });
  });

  it('switches the served certificate to the new CA only once every configuration has trusted it for the propagation period', () => {
    const both = state([old, fresh]);
    expect(nextRotation(now, both, never, timing)).toEqual({ action: 'keep' });
    expect(nextRotation(now, both, trustedFor(29_999, 'old', 'new'), timing)).toEqual({ action: 'keep' });
    expect(nextRotation(now, both, trustedFor(30_000, 'old', 'new'), timing)).toEqual({
      action: 'issue',
      signer: 'new',
      reason: 'new-authority',
    });
    expect(nextRotation(now, state([old, fresh], { issuer: 'new' }), trustedFor(day, 'new'), timing)).toEqual(
      {
        action: 'keep',
      },
    );
  });

  it('drops a CA from the bundle only once it has expired: no certificate it signed is valid any more', () => {
    const signedByNew = { issuer: 'new', notAfter: at(80 * day) };
    expect(
      nextRotation(now, state([ca('old', 1), fresh], signedByNew), trustedFor(day, 'new'), timing),
    ).toEqual({
      action: 'keep',
    });
    expect(
      nextRotation(now, state([ca('old', 0), fresh], signedByNew), trustedFor(day, 'new'), timing),
    ).toEqual({
      action: 'drop-authorities',
      ids: ['old'],
    });
  });

  it('reissues a certificate that expired with its CA (no leader rotated meanwhile) before dropping that CA', () => {
    const expiredWithIt = { issuer: 'old', notAfter: at(-1) };
    const lapsed = state([ca('old', -1), fresh], expiredWithIt);
    // Dropping the CA first would leave a Secret whose certificate no CA of the bundle signed.
    expect(nextRotation(now, lapsed, never, timing)).toEqual({
      action: 'issue',
      signer: 'new',
      reason: 'renewal',
    });
    const reissued = state([ca('old', -1), fresh], { issuer: 'new', notAfter: at(90 * day) });
    expect(nextRotation(now, reissued, never, timing)).toEqual({ action: 'drop-authorities', ids: ['old'] });
  });

  it('renews the served certificate with a third of its validity left, by the CA that signed it while the new one is not trusted', () => {
    const due = { notAfter: at(30 * day - 1) };
    expect(nextRotation(now, state([old], due), trustedFor(day, 'old'), timing)).toEqual({
      action: 'issue',
      signer: 'old',
      reason: 'renewal',
    });
    expect(nextRotation(now, state([old, fresh], due), trustedFor(day, 'old'), timing)).toEqual({
      action: 'issue',
      signer: 'old',
      reason: 'renewal',
    });
    expect(
      nextRotation(now, state([old], { notAfter: at(30 * day) }), trustedFor(day, 'old'), timing),
    ).toEqual({
      action: 'keep',
    });
  });

  it('renews by the new CA, trusted or not, when the old one could sign only a certificate due for renewal at once', () => {
    const nearEnd = ca('old', 30 * day - 1);
    const due = { notAfter: at(day) };
    expect(nextRotation(now, state([nearEnd, fresh], due), trustedFor(day, 'old'), timing)).toEqual({
      action: 'issue',
      signer: 'new',
      reason: 'renewal',
    });
  });

  it('reissues a certificate that misses a name the API server calls, or that no CA of the bundle signed', () => {
    expect(nextRotation(now, state([old], { namesMatch: false }), trustedFor(day, 'old'), timing)).toEqual({
      action: 'issue',
      signer: 'old',
      reason: 'names',
    });
    expect(nextRotation(now, state([old], { issuer: undefined }), never, timing)).toEqual({
      action: 'issue',
      signer: 'old',
      reason: 'unsigned',
    });
  });

  it('rotates a whole CA lifetime without ever serving a certificate the bundle does not trust', () => {
    // Simulated: the webhook configurations take the bundle 10 s after it changes; steps every 10 s at first.
    let t = 0;
    let serial = 0;
    const short: RotationTiming = {
      caValidityMs: 90_000,
      certificateValidityMs: 30_000,
      propagationMs: 1_000,
    };
    const issue = (signer: Authority, ms: number): ManagedCertificateState['serving'] => ({
      issuer: signer.id,
      notAfter: new Date(Math.min(ms + short.certificateValidityMs, signer.notAfter.getTime())),
      namesMatch: true,
    });
    const first: Authority = { id: `ca-${serial++}`, notAfter: new Date(short.caValidityMs), signs: true };
    let current: ManagedCertificateState = { authorities: [first], serving: issue(first, 0) };
    let configured: string[] = [first.id];
    let configuredSince = 0;
    const seen = new Set<string>();
    for (; t < 400_000; t += 500) {
      const clock = new Date(t);
      if (t - configuredSince >= 10_000) configured = current.authorities.map(({ id }) => id);
      expect(configured).toContain(current.serving.issuer);
      expect(current.serving.notAfter.getTime()).toBeGreaterThan(t);
      const trusted = (id: string): Date | undefined =>
        configured.includes(id) ? new Date(configuredSince + 10_000) : undefined;
      const action = nextRotation(clock, current, trusted, short);
      seen.add(action.action);
      const before = current.authorities.map(({ id }) => id).join();
      if (action.action === 'add-authority') {
        const added = { id: `ca-${serial++}`, notAfter: new Date(t + short.caValidityMs), signs: true };
        current = { ...current, authorities: [...current.authorities, added] };
      } else if (action.action === 'drop-authorities') {
        current = {
          ...current,
          authorities: current.authorities.filter(({ id }) => !action.ids.includes(id)),
        };
      } else if (action.action === 'issue') {
        const signer = current.authorities.find(({ id }) => id === action.signer);
        if (signer === undefined) throw new Error('no signer');
        current = { ...current, serving: issue(signer, t) };
      }
      if (current.authorities.map(({ id }) => id).join() !== before) configuredSince = t;
    }
    expect([...seen].sort()).toEqual(['add-authority', 'drop-authorities', 'issue', 'keep']);
    expect(serial).toBeGreaterThanOrEqual(5);
  });
});
