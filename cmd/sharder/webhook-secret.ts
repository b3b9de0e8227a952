// The Secret of the sharder-managed webhook certificates: its layout, reading it (node:crypto), and writing its
// next contents (runtime/certificates.ts, which loads @peculiar/x509 and costs ~17 MiB of resident memory: it is
// imported only when a certificate is issued, so replicas that only read the Secret never load it).
//
// type kubernetes.io/tls, data:
//   tls.crt  the serving certificate (PEM)           tls.key  its private key (PEM, PKCS #8)
//   ca.crt   the CA bundle the API server trusts: the caBundle of every ring's webhook configuration (PEM)
//   ca.key   the private keys of the bundle's CAs (PEM, PKCS #8, any order: each found by its certificate)
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import type { KeyPair } from '../../runtime/certificates.ts';
import type { ManagedCertificateState, RotationAction } from './certificate-rotation.ts';
import type { ManagedCertificateOptions, SharderConfig } from './config.ts';
import { pemBlocks, type WebhookCertificates } from './webhook-certificates.ts';

export const secretKeys = {
  certificate: 'tls.crt',
  privateKey: 'tls.key',
  bundle: 'ca.crt',
  authorityKeys: 'ca.key',
} as const;

/** What the serving certificate must name: where the API server calls the webhook. */
export interface ServingNames {
  dnsNames: string[];
  ipAddresses: string[];
}

export function servingNames(clientConfig: SharderConfig['webhook']['clientConfig']): ServingNames {
  if ('url' in clientConfig) {
    const host = new URL(clientConfig.url).hostname.replace(/^\[(.*)\]$/, '$1');
    return isIP(host) === 0 ? { dnsNames: [host], ipAddresses: [] } : { dnsNames: [], ipAddresses: [host] };
  }
  const { name, namespace } = clientConfig.service;
  // The API server calls <name>.<namespace>.svc; the others are for people and other clients.
  const svc = `${name}.${namespace}.svc`;
  return { dnsNames: [name, `${name}.${namespace}`, svc, `${svc}.cluster.local`], ipAddresses: [] };
}

interface BundleEntry {
  certificate: X509Certificate;
  pem: string;
  id: string;
  key: KeyObject | undefined;
  keyPem: string | undefined;
}

/** A Secret the sharder can serve from. */
export interface ManagedSecret {
  resourceVersion: string;
  certificates: WebhookCertificates;
  state: ManagedCertificateState;
  bundle: BundleEntry[];
}

function decode(secret: ISecret, key: string): string {
  return Buffer.from(secret.data?.[key] ?? '', 'base64').toString('utf8');
}

/** The Secret's contents, or what makes them unusable for serving. */
export function readSecret(secret: ISecret, names: ServingNames): ManagedSecret | string {
  const [servingBlock] = pemBlocks(decode(secret, secretKeys.certificate));
  if (servingBlock?.label !== 'CERTIFICATE') return `${secretKeys.certificate} holds no PEM certificate`;
  const privateKey = decode(secret, secretKeys.privateKey);
  let serving: X509Certificate;
  let servingKey: KeyObject;
  try {
    serving = new X509Certificate(servingBlock.text);
    servingKey = createPrivateKey(privateKey);
  } catch (error) {
    return `${secretKeys.certificate} or ${secretKeys.privateKey} cannot be parsed: ${(error as Error).message}`;
  }
  if (!serving.checkPrivateKey(servingKey))
    return `${secretKeys.privateKey} is not the key of ${secretKeys.certificate}`;
  const keys: { key: KeyObject; pem: string }[] = [];
  for (const block of pemBlocks(decode(secret, secretKeys.authorityKeys))) {
    try {
      keys.push({ key: createPrivateKey(block.text), pem: block.text });
    } catch {
      // A key that cannot be parsed signs nothing: its CA is kept in the bundle until it expires.
    }
  }
  const bundle: BundleEntry[] = [];
  for (const block of pemBlocks(decode(secret, secretKeys.bundle))) {
    if (block.label !== 'CERTIFICATE') continue;
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block.text);
    } catch {
      continue;
    }
    const key = keys.find((candidate) => certificate.checkPrivateKey(candidate.key));
    bundle.push({ certificate, pem: block.text, id: block.body, key: key?.key, keyPem: key?.pem });
  }
  const issuer = bundle.find(
    ({ certificate }) => serving.checkIssued(certificate) && serving.verify(certificate.publicKey),
  );
  if (issuer === undefined) return `no CA in ${secretKeys.bundle} signed ${secretKeys.certificate}`;
  const namesMatch =
    names.dnsNames.every((name) => serving.checkHost(name, { wildcards: false }) === name) &&
    names.ipAddresses.every((ip) => serving.checkIP(ip) === ip);
  return {
    resourceVersion: secret.metadata?.resourceVersion ?? '',
    certificates: {
      certificate: servingBlock.text,
      privateKey,
      caBundle: secret.data?.[secretKeys.bundle] ?? '',
    },
    state: {
      authorities: bundle.map(({ id, certificate, key }) => ({
        id,
        notAfter: new Date(certificate.validTo),
        signs: key !== undefined,
      })),
      serving: { notAfter: new Date(serving.validTo), issuer: issuer.id, namesMatch },
    },
    bundle,
  };
}

/** Whether a base64 caBundle holds the CA `id` (its DER, base64). */
export function bundleTrusts(caBundle: string | undefined, id: string): boolean {
  const text = Buffer.from(caBundle ?? '', 'base64').toString('utf8');
  return pemBlocks(text).some((block) => block.label === 'CERTIFICATE' && block.body === id);
}

const certificatesModule = (): Promise<typeof import('../../runtime/certificates.ts')> =>
  import('../../runtime/certificates.ts');

interface Contents {
  /** CA certificates with their keys where known, in bundle order. */
  bundle: { certificate: string; privateKey: string | undefined }[];
  serving: KeyPair;
}

function data({ bundle, serving }: Contents): Record<string, string> {
  const base64 = (text: string): string => Buffer.from(text).toString('base64');
  const pem = (blocks: string[]): string => blocks.map((block) => `${block.trim()}\n`).join('');
  return {
    [secretKeys.certificate]: base64(serving.certificate),
    [secretKeys.privateKey]: base64(serving.privateKey),
    [secretKeys.bundle]: base64(pem(bundle.map(({ certificate }) => certificate))),
    [secretKeys.authorityKeys]: base64(pem(bundle.flatMap(({ privateKey }) => privateKey ?? []))),
  };
}

/** A new CA, named after its creation so that the bundle's CAs are told apart by subject too. */
async function newAuthority(now: Date, options: ManagedCertificateOptions): Promise<KeyPair> {
  const { createCertificateAuthority } = await certificatesModule();
  const { certificate, privateKey } = await createCertificateAuthority(
    `controller-rings-webhook-ca-${now.toISOString()}`,
    { notAfter: new Date(now.getTime() + options.caValidityMs) },
  );
  return { certificate, privateKey };
}

async function issue(
  signer: KeyPair,
  now: Date,
  names: ServingNames,
  options: ManagedCertificateOptions,
): Promise<KeyPair> {
  const { loadCertificateAuthority } = await certificatesModule();
  const authority = await loadCertificateAuthority(signer);
  // Never past the CA's expiry: once a CA expires, no certificate it signed is valid, and it may leave the bundle.
  const caExpiry = new X509Certificate(signer.certificate).validToDate.getTime();
  return authority.sign({
    commonName: names.dnsNames[0] ?? names.ipAddresses[0] ?? 'controller-rings-sharder-webhook',
    ...names,
    usage: 'server',
    notAfter: new Date(Math.min(now.getTime() + options.certificateValidityMs, caExpiry)),
  });
}

/** The data of a new Secret: a new CA and a serving certificate it signed. */
export async function initialData(
  now: Date,
  names: ServingNames,
  options: ManagedCertificateOptions,
): Promise<Record<string, string>> {
  const authority = await newAuthority(now, options);
  const serving = await issue(authority, now, names, options);
  return data({ bundle: [authority], serving });
}

/** The data after `action` (not 'keep'). */
export async function rotatedData(
  current: ManagedSecret,
  action: Exclude<RotationAction, { action: 'keep' }>,
  now: Date,
  names: ServingNames,
  options: ManagedCertificateOptions,
): Promise<Record<string, string>> {
  const bundle = current.bundle.map(({ pem, keyPem }) => ({ certificate: pem, privateKey: keyPem }));
  const serving = {
    certificate: current.certificates.certificate,
    privateKey: current.certificates.privateKey,
  };
  switch (action.action) {
    case 'add-authority':
      return data({ bundle: [...bundle, await newAuthority(now, options)], serving });
    case 'drop-authorities':
      return data({
        bundle: bundle.filter((_, i) => !action.ids.includes(current.bundle[i]?.id ?? '')),
        serving,
      });
    case 'issue': {
      const signer = current.bundle.find(({ id }) => id === action.signer);
      if (signer?.keyPem === undefined) throw new Error(`the CA ${action.signer} has no key`);
      return data({
        bundle,
        serving: await issue({ certificate: signer.pem, privateKey: signer.keyPem }, now, names, options),
      });
    }
  }
}
