// Certificates for TLS on 127.0.0.1 and in-cluster Services: a certificate authority and the serving and client
// certificates it signs. The embedded control plane uses them for its API server; the sharder for its webhook
// (cmd/sharder/webhook-secret.ts), which loads this module only when it issues: @peculiar/x509 costs ~17 MiB of
// resident memory.
import { webcrypto } from 'node:crypto';
// @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto);

const algorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const day = 24 * 60 * 60 * 1000;

export interface KeyPair {
  /** PEM-encoded certificate. */
  certificate: string;
  /** PEM-encoded PKCS #8 private key. */
  privateKey: string;
}

export interface CertificateAuthority extends KeyPair {
  sign(request: CertificateRequest): Promise<KeyPair>;
}

export interface CertificateRequest {
  commonName: string;
  organizations?: string[];
  dnsNames?: string[];
  ipAddresses?: string[];
  usage: 'server' | 'client';
  validityDays?: number;
  /** Expiry instead of validityDays (the sharder's rotation counts in milliseconds). */
  notAfter?: Date;
}

/** How long a certificate is valid: days from now, or until a moment. */
export type Validity = number | { notAfter: Date };

function serialNumber(): string {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // a positive integer, as RFC 5280 requires
  return Buffer.from(bytes).toString('hex');
}

function validity(until: Validity): { notBefore: Date; notAfter: Date } {
  // Backdated by an hour so clocks that run slightly behind still accept a fresh certificate.
  const notBefore = new Date(Date.now() - 60 * 60 * 1000);
  const notAfter = typeof until === 'number' ? new Date(notBefore.getTime() + until * day) : until.notAfter;
  return { notBefore, notAfter };
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(algorithm, true, ['sign', 'verify']);
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  return x509.PemConverter.encode(await webcrypto.subtle.exportKey('pkcs8', key), 'PRIVATE KEY');
}

function distinguishedName(commonName: string, organizations: string[] = []): string {
  const escape = (value: string): string => value.replace(/([,+"\\<>;=])/g, '\\$1');
  return [`CN=${escape(commonName)}`, ...organizations.map((o) => `O=${escape(o)}`)].join(', ');
}

/** Creates a self-signed certificate authority that signs server and client certificates. */
export async function createCertificateAuthority(
  commonName: string,
  validityDays: Validity = 365,
): Promise<CertificateAuthority> {
  const keys = await generateKeys();
  const authority = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: distinguishedName(commonName),
    ...validity(validityDays),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const certificate = authority.toString('pem');
  return signer(authority, keys.privateKey, {
    certificate,
    privateKey: await privateKeyPem(keys.privateKey),
  });
}

/** A certificate authority from its PEM certificate and PKCS #8 key (made by createCertificateAuthority). */
export async function loadCertificateAuthority(pair: KeyPair): Promise<CertificateAuthority> {
  const authority = new x509.X509Certificate(pair.certificate);
  const key = await webcrypto.subtle.importKey(
    'pkcs8',
    x509.PemConverter.decodeFirst(pair.privateKey),
    algorithm,
    false,
    ['sign'],
  );
  return signer(authority, key, pair);
}

function signer(
  authority: x509.X509Certificate,
  signingKey: webcrypto.CryptoKey,
  pair: KeyPair,
): CertificateAuthority {
  async function sign(request: CertificateRequest): Promise<KeyPair> {
    const leafKeys = await generateKeys();
    const alternativeNames = [
      ...(request.dnsNames ?? []).map((value) => ({ type: 'dns' as const, value })),
      ...(request.ipAddresses ?? []).map((value) => ({ type: 'ip' as const, value })),
    ];
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serialNumber(),
      subject: distinguishedName(request.commonName, request.organizations),
      issuer: authority.subject,
      ...validity(
        request.notAfter === undefined ? (request.validityDays ?? 365) : { notAfter: request.notAfter },
      ),
      publicKey: leafKeys.publicKey,
      signingKey,
      signingAlgorithm: algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([
          request.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
        ]),
        await x509.AuthorityKeyIdentifierExtension.create(authority),
        ...(alternativeNames.length > 0 ? [new x509.SubjectAlternativeNameExtension(alternativeNames)] : []),
      ],
    });
    return { certificate: certificate.toString('pem'), privateKey: await privateKeyPem(leafKeys.privateKey) };
  }

  return { ...pair, sign };
}

/** Creates the key pair the API server signs service-account tokens with (PEM private and public key). */
export async function createSigningKeyPair(): Promise<{ privateKey: string; publicKey: string }> {
  const keys = await generateKeys();
  const publicKey = x509.PemConverter.encode(
    await webcrypto.subtle.exportKey('spki', keys.publicKey),
    'PUBLIC KEY',
  );
  return { privateKey: await privateKeyPem(keys.privateKey), publicKey };
}
