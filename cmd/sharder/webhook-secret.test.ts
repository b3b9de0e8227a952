import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { createCertificateAuthority } from '../../runtime/certificates.ts';
import {
  bundleTrusts,
  initialData,
  readSecret,
  rotatedData,
  secretKeys,
  servingNames,
  type ManagedSecret,
} from './webhook-secret.ts';

const names = servingNames({ service: { namespace: 'controller-rings-system', name: 'webhook', port: 443 } });
const options = { name: 'certificates', caValidityMs: 3_600_000, certificateValidityMs: 600_000 };
const now = new Date();
const secret = (data: Record<string, string>): ISecret => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'certificates', resourceVersion: '7' },
  data,
});
const text = (data: Record<string, string>, key: string): string =>
  Buffer.from(data[key] ?? '', 'base64').toString('utf8');

function read(data: Record<string, string>): ManagedSecret {
  const result = readSecret(secret(data), names);
  if (typeof result === 'string') throw new Error(result);
  return result;
}

describe('the managed certificate Secret', () => {
  it("names the Service's DNS names, or the URL's host", () => {
    expect(names).toEqual({
      dnsNames: [
        'webhook',
        'webhook.controller-rings-system',
        'webhook.controller-rings-system.svc',
        'webhook.controller-rings-system.svc.cluster.local',
      ],
      ipAddresses: [],
    });
    expect(servingNames({ url: 'https://127.0.0.1:9443' })).toEqual({
      dnsNames: [],
      ipAddresses: ['127.0.0.1'],
    });
    expect(servingNames({ url: 'https://[::1]:9443' })).toEqual({ dnsNames: [], ipAddresses: ['::1'] });
    expect(servingNames({ url: 'https://sharder.example.com' })).toEqual({
      dnsNames: ['sharder.example.com'],
      ipAddresses: [],
    });
  });

  it('starts with a CA and a serving certificate it signed for every name, neither past its validity', async () => {
    const data = await initialData(now, names, options);
    const contents = read(data);
    expect(contents.state.authorities).toEqual([
      { id: expect.any(String), notAfter: expect.any(Date), signs: true },
    ]);
    const [authority] = contents.state.authorities;
    expect(contents.state.serving).toEqual({
      notAfter: expect.any(Date),
      issuer: authority?.id,
      namesMatch: true,
    });
    // Certificates hold whole seconds.
    expect(Math.abs((authority?.notAfter.getTime() ?? 0) - now.getTime() - 3_600_000)).toBeLessThan(1000);
    expect(Math.abs(contents.state.serving.notAfter.getTime() - now.getTime() - 600_000)).toBeLessThan(1000);
    expect(contents.certificates.caBundle).toBe(data[secretKeys.bundle]);
    expect(bundleTrusts(contents.certificates.caBundle, authority?.id ?? '')).toBe(true);
    const serving = new X509Certificate(text(data, secretKeys.certificate));
    expect(serving.checkHost('webhook.controller-rings-system.svc')).toBe(
      'webhook.controller-rings-system.svc',
    );
  });

  it('adds a CA beside the old one, reissues by the new one, and drops the old one, keeping the rest', async () => {
    const first = read(await initialData(now, names, options));
    const [old] = first.state.authorities;
    const added = read(await rotatedData(first, { action: 'add-authority' }, now, names, options));
    expect(added.state.authorities.map(({ id }) => id)).toEqual([old?.id, expect.any(String)]);
    expect(added.state.authorities.every(({ signs }) => signs)).toBe(true);
    expect(added.certificates.certificate).toBe(first.certificates.certificate);
    const fresh = added.state.authorities[1]?.id ?? '';
    expect(bundleTrusts(added.certificates.caBundle, old?.id ?? '')).toBe(true);
    expect(bundleTrusts(added.certificates.caBundle, fresh)).toBe(true);
    expect(bundleTrusts(first.certificates.caBundle, fresh)).toBe(false);

    const switched = read(
      await rotatedData(
        added,
        { action: 'issue', signer: fresh, reason: 'new-authority' },
        now,
        names,
        options,
      ),
    );
    expect(switched.state.serving.issuer).toBe(fresh);
    expect(switched.certificates.caBundle).toBe(added.certificates.caBundle);

    const dropped = read(
      await rotatedData(switched, { action: 'drop-authorities', ids: [old?.id ?? ''] }, now, names, options),
    );
    expect(dropped.state.authorities.map(({ id }) => id)).toEqual([fresh]);
    expect(dropped.certificates.certificate).toBe(switched.certificates.certificate);
  });

  it('cuts a serving certificate at the expiry of the CA that signs it', async () => {
    const first = read(await initialData(now, names, { ...options, caValidityMs: 300_000 }));
    const [authority] = first.state.authorities;
    expect(first.state.serving.notAfter).toEqual(authority?.notAfter);
  });

  it("serves a Secret without the CAs' keys (cert-manager's layout): its CA cannot sign", async () => {
    const authority = await createCertificateAuthority('theirs');
    const serving = await authority.sign({
      commonName: 'webhook',
      dnsNames: names.dnsNames,
      usage: 'server',
    });
    const base64 = (value: string): string => Buffer.from(value).toString('base64');
    const contents = read({
      'tls.crt': base64(serving.certificate),
      'tls.key': base64(serving.privateKey),
      'ca.crt': base64(authority.certificate),
    });
    expect(contents.state.authorities).toEqual([expect.objectContaining({ signs: false })]);
  });

  it('says what makes a Secret unusable', async () => {
    const data = await initialData(now, names, options);
    const other = await initialData(now, names, options);
    expect(readSecret(secret({}), names)).toBe('tls.crt holds no PEM certificate');
    expect(readSecret(secret({ ...data, 'tls.key': other['tls.key'] ?? '' }), names)).toBe(
      'tls.key is not the key of tls.crt',
    );
    expect(readSecret(secret({ ...data, 'ca.crt': other['ca.crt'] ?? '' }), names)).toBe(
      'no CA in ca.crt signed tls.crt',
    );
    const renamed = servingNames({ url: 'https://127.0.0.1:9443' });
    expect(readSecret(secret(data), renamed)).toMatchObject({ state: { serving: { namesMatch: false } } });
  });
});
