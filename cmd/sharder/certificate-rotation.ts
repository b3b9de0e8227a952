// When the sharder-managed webhook certificates change, as a pure function of the clock and the Secret's
// contents. The API server must trust every certificate a replica serves, and replicas pick up a new one at
// different moments, so a CA rotates with an overlap:
//   1. with a third of the newest CA's validity left, a new CA is added to the bundle (ca.crt) beside it;
//   2. the leader writes the bundle with both into every ring's webhook configuration;
//   3. once every configuration has held the new CA for a propagation period (the API servers read them from
//      their own watches), the serving certificate is reissued by the new CA; replicas still serving the old
//      one are trusted through the old CA, which stays in the bundle;
//   4. a CA leaves the bundle once it has expired. No certificate outlives the CA that signed it (its validity
//      is cut at the CA's), so by then no replica serves one that it signed, however far behind. Only when no
//      leader rotated for that long did the served certificate expire with its CA: it is reissued first.
// The serving certificate is renewed with a third of its validity left, by the newest CA if every
// configuration trusts it, else by the CA that signed the current one while that one can still sign for a
// third of a validity. Only the leader rotates, so a third of each validity must outlast a spell without one
// (config.ts checks the certificate's against the Lease duration).

/** A CA of the bundle. */
export interface Authority {
  /** Its DER, base64: how bundles are compared. */
  id: string;
  notAfter: Date;
  /** Whether the Secret holds its private key. */
  signs: boolean;
}

export interface ManagedCertificateState {
  /** The bundle (ca.crt), in its order. */
  authorities: Authority[];
  serving: {
    notAfter: Date;
    /** The id of the bundle's CA that signed it; undefined when none did. */
    issuer: string | undefined;
    /** Whether it names every DNS name and IP address the API server calls the webhook at. */
    namesMatch: boolean;
  };
}

export interface RotationTiming {
  caValidityMs: number;
  certificateValidityMs: number;
  /** How long every webhook configuration must have trusted a new CA before it signs the served certificate. */
  propagationMs: number;
}

export type RotationAction =
  | { action: 'keep' }
  | { action: 'add-authority' }
  | { action: 'drop-authorities'; ids: string[] }
  | { action: 'issue'; signer: string; reason: 'new-authority' | 'renewal' | 'names' | 'unsigned' };

/**
 * The next change to make, one at a time: the caller writes it, and asks again with the new contents.
 * `trustedSince(id)` is since when every ring's webhook configuration has held the CA, or undefined.
 */
export function nextRotation(
  now: Date,
  state: ManagedCertificateState,
  trustedSince: (id: string) => Date | undefined,
  timing: RotationTiming,
): RotationAction {
  const t = now.getTime();
  const left = (authority: Authority): number => authority.notAfter.getTime() - t;
  const newest = state.authorities
    .filter((authority) => authority.signs && left(authority) > 0)
    .reduce<Authority | undefined>((a, b) => (a === undefined || left(b) > left(a) ? b : a), undefined);
  if (newest === undefined || left(newest) < timing.caValidityMs / 3) return { action: 'add-authority' };

  const expired = state.authorities.filter((authority) => left(authority) <= 0).map(({ id }) => id);
  // Not the CA of the served certificate, expired with it (after a leaderless spell): the Secret would hold a
  // certificate no CA of its bundle signed, which no replica takes. It is reissued first.
  const { serving } = state;
  if (expired.length > 0 && !expired.includes(serving.issuer ?? '')) {
    return { action: 'drop-authorities', ids: expired };
  }

  const since = trustedSince(newest.id);
  const trusted = since !== undefined && t - since.getTime() >= timing.propagationMs;
  if (serving.issuer !== newest.id && trusted) {
    return { action: 'issue', signer: newest.id, reason: 'new-authority' };
  }
  const renewal = serving.notAfter.getTime() - t < timing.certificateValidityMs / 3;
  if (!renewal && serving.namesMatch && serving.issuer !== undefined) return { action: 'keep' };
  const issuer = state.authorities.find(({ id }) => id === serving.issuer);
  // The CA of the served certificate while it can still sign one that needs no renewal at once.
  const current =
    issuer !== undefined && issuer.signs && left(issuer) >= timing.certificateValidityMs / 3
      ? issuer
      : undefined;
  const signer = trusted || current === undefined ? newest : current;
  const reason = renewal ? 'renewal' : serving.issuer === undefined ? 'unsigned' : 'names';
  return { action: 'issue', signer: signer.id, reason };
}
