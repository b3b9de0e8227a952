// The webhook's serving certificate, its key and the CA bundle, read from the files the flags name and checked
// before use: at start-up, so that a bad file stops the sharder with a message that names the option and the
// file, and at every reload, so that a bad file never replaces good certificates. node:crypto does the
// parsing (@peculiar/x509 costs the sharder ~17 MiB of resident memory: it is loaded only to issue
// certificates, webhook-secret.ts).
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { KeyPair } from '../../runtime/certificates.ts';
import { fail, unreadable, type WebhookCertificateFiles } from './config.ts';

/** PEM certificate and key to serve, and the base64 CA bundle for the webhook configurations. */
export interface WebhookCertificates extends KeyPair {
  caBundle: string;
}

/** One PEM block (RFC 7468): its label and the base64 between the lines. */
const pemBlock = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\s]*?)-----END \1-----/g;

export interface PemBlock {
  label: string;
  /** The whole block, from BEGIN to END. */
  text: string;
  /** The DER, base64 without line breaks: two encodings of one certificate compare equal. */
  body: string;
}

/** The PEM blocks of a text, in order. */
export function pemBlocks(text: string): PemBlock[] {
  return [...text.matchAll(pemBlock)].map(([block, label = '', body = '']) => ({
    label,
    text: block,
    body: body.replace(/\s/g, ''),
  }));
}

async function read(option: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    fail(option, unreadable(path, error));
  }
}

type Certificates = [X509Certificate, ...X509Certificate[]];

/** The certificates of a PEM file, which must hold at least one and nothing else. */
function certificates(option: string, path: string, text: string): Certificates {
  const blocks = pemBlocks(text);
  if (blocks.length === 0) fail(option, `${path} holds no PEM certificate`);
  const parsed = blocks.map(({ label, text: block }) => {
    if (label !== 'CERTIFICATE') fail(option, `${path} holds a ${label}, not only PEM certificates`);
    try {
      return new X509Certificate(block);
    } catch (error) {
      fail(option, `${path} holds a PEM certificate that cannot be parsed: ${(error as Error).message}`);
    }
  });
  return parsed as Certificates;
}

function privateKey(path: string, text: string): KeyObject {
  try {
    return createPrivateKey(text);
  } catch (error) {
    fail('webhook-key-file', `${path} holds no usable PEM private key: ${(error as Error).message}`);
  }
}

/**
 * Reads and checks the files: the certificate file holds PEM certificates (the serving one first, then any
 * intermediates), the key file its PEM private key, and the CA file PEM certificates one of which signed
 * one in the certificate file (else the API server could not verify the webhook). Throws ConfigError.
 */
export async function readWebhookCertificates(files: WebhookCertificateFiles): Promise<WebhookCertificates> {
  const { certFile, keyFile, caFile } = files;
  const certificate = await read('webhook-cert-file', certFile);
  const chain = certificates('webhook-cert-file', certFile, certificate);
  const key = await read('webhook-key-file', keyFile);
  if (!chain[0].checkPrivateKey(privateKey(keyFile, key)))
    fail(
      'webhook-key-file',
      `${keyFile} is not the key of the certificate in ${certFile} (--webhook-cert-file)`,
    );
  const ca = await read('webhook-ca-file', caFile);
  const authorities = certificates('webhook-ca-file', caFile, ca);
  const trusted = chain.some((link) =>
    authorities.some(
      (authority) =>
        link.raw.equals(authority.raw) || (link.checkIssued(authority) && link.verify(authority.publicKey)),
    ),
  );
  if (!trusted) {
    fail(
      'webhook-ca-file',
      `${caFile} holds no CA that signed the certificate in ${certFile} (--webhook-cert-file)`,
    );
  }
  return { certificate, privateKey: key, caBundle: Buffer.from(ca).toString('base64') };
}
