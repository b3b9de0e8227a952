import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { createCertificateAuthority } from '../../runtime/certificates.ts';
import type { WebhookCertificateFiles } from './config.ts';
import { readWebhookCertificates } from './webhook-certificates.ts';

// Created before the tables of cases below, which hold their PEM.
const dir = await mkdtemp(join(tmpdir(), 'webhook-certificates-'));
const authority = await createCertificateAuthority('test-ca');
const serving = await authority.sign({ commonName: 'sharder', ipAddresses: ['127.0.0.1'], usage: 'server' });
const other = await authority.sign({ commonName: 'other', usage: 'server' });
const otherAuthority = await createCertificateAuthority('other-ca');

async function files(contents: {
  cert?: string;
  key?: string;
  ca?: string;
}): Promise<WebhookCertificateFiles> {
  const into = await mkdtemp(join(dir, 'case-'));
  const paths = {
    certFile: join(into, 'tls.crt'),
    keyFile: join(into, 'tls.key'),
    caFile: join(into, 'ca.crt'),
  };
  await writeFile(paths.certFile, contents.cert ?? serving.certificate);
  await writeFile(paths.keyFile, contents.key ?? serving.privateKey);
  await writeFile(paths.caFile, contents.ca ?? authority.certificate);
  return paths;
}

describe('readWebhookCertificates', () => {
  it('reads a certificate, its key and the CA that signed it, the CA as a base64 bundle', async () => {
    const paths = await files({});
    expect(await readWebhookCertificates(paths)).toEqual({
      certificate: serving.certificate,
      privateKey: serving.privateKey,
      caBundle: Buffer.from(authority.certificate).toString('base64'),
    });
  });

  it('takes a CA bundle of several certificates, one of which signed the serving certificate', async () => {
    const bundle = `${otherAuthority.certificate}${authority.certificate}`;
    const paths = await files({ ca: bundle });
    expect((await readWebhookCertificates(paths)).caBundle).toBe(Buffer.from(bundle).toString('base64'));
  });

  it('takes a certificate file that carries the chain after the serving certificate', async () => {
    const chain = `${serving.certificate}${authority.certificate}`;
    expect((await readWebhookCertificates(await files({ cert: chain }))).certificate).toBe(chain);
  });

  it.each([
    ['certFile', 'webhook-cert-file'],
    ['keyFile', 'webhook-key-file'],
    ['caFile', 'webhook-ca-file'],
  ] as const)(
    'names the option of the %s and the file when it does not exist or is a directory',
    async (file, option) => {
      const paths = await files({});
      const missing = join(dir, 'missing');
      await expect(readWebhookCertificates({ ...paths, [file]: missing })).rejects.toThrow(
        `--${option}: ${missing} does not exist`,
      );
      await expect(readWebhookCertificates({ ...paths, [file]: dir })).rejects.toThrow(
        `--${option}: ${dir} is a directory, not a file`,
      );
    },
  );

  it.each([
    [
      'a certificate file that is not PEM',
      { cert: 'garbage' },
      /^--webhook-cert-file: \S+ holds no PEM certificate$/,
    ],
    [
      'a certificate file that holds a key',
      { cert: `${serving.certificate}${serving.privateKey}` },
      /^--webhook-cert-file: \S+ holds a PRIVATE KEY, not only PEM certificates$/,
    ],
    [
      'a PEM certificate that does not parse',
      { cert: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' },
      /^--webhook-cert-file: \S+ holds a PEM certificate that cannot be parsed/,
    ],
    [
      'a key file that is not PEM',
      { key: 'garbage' },
      /^--webhook-key-file: \S+ holds no usable PEM private key/,
    ],
    [
      'a key file that holds a certificate',
      { key: serving.certificate },
      /^--webhook-key-file: \S+ holds no usable/,
    ],
    [
      'a key that is not the certificate’s',
      { key: other.privateKey },
      /^--webhook-key-file: \S+tls\.key is not the key of the certificate in \S+tls\.crt \(--webhook-cert-file\)$/,
    ],
    ['a CA file that is not PEM', { ca: 'garbage' }, /^--webhook-ca-file: \S+ holds no PEM certificate$/],
    [
      'a CA file that holds a key',
      { ca: authority.privateKey },
      /^--webhook-ca-file: \S+ holds a PRIVATE KEY/,
    ],
    [
      'a CA that did not sign the certificate',
      { ca: otherAuthority.certificate },
      /^--webhook-ca-file: \S+ca\.crt holds no CA that signed the certificate in \S+tls\.crt/,
    ],
  ])('refuses %s, naming the option and the file', async (_, contents, message) => {
    await expect(readWebhookCertificates(await files(contents))).rejects.toThrow(message);
  });
});
