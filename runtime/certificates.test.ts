import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { once } from 'node:events';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:tls';
import { describe, expect, it } from '@jest/globals';
import {
  createCertificateAuthority,
  createSigningKeyPair,
  loadCertificateAuthority,
} from './certificates.ts';

describe('certificates', () => {
  it('issue a server certificate for 127.0.0.1 that a client trusting the CA accepts', async () => {
    const authority = await createCertificateAuthority('test-ca');
    const serving = await authority.sign({
      commonName: 'webhook',
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1'],
      usage: 'server',
    });
    const certificate = new X509Certificate(serving.certificate);
    expect(certificate.checkIssued(new X509Certificate(authority.certificate))).toBe(true);
    expect(certificate.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(certificate.checkHost('localhost')).toBe('localhost');

    const server = createServer({ cert: serving.certificate, key: serving.privateKey }, (_, response) =>
      response.end('ok'),
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const socket = connect({ host: '127.0.0.1', port, ca: authority.certificate });
      await once(socket, 'secureConnect');
      expect(socket.authorized).toBe(true);
      socket.destroy();
    } finally {
      server.close();
    }
  });

  it('issue client certificates with the organizations as groups', async () => {
    const authority = await createCertificateAuthority('test-ca');
    const client = await authority.sign({
      commonName: 'admin',
      organizations: ['system:masters'],
      usage: 'client',
    });
    expect(new X509Certificate(client.certificate).subject).toBe('CN=admin\nO=system:masters');
  });

  it('load a CA from its PEM certificate and key, which signs until a given moment', async () => {
    const notAfter = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000);
    const created = await createCertificateAuthority('test-ca', { notAfter });
    const loaded = await loadCertificateAuthority(created);
    expect(loaded.certificate).toBe(created.certificate);
    const serving = await loaded.sign({
      commonName: 'webhook',
      dnsNames: ['webhook'],
      usage: 'server',
      notAfter,
    });
    const certificate = new X509Certificate(serving.certificate);
    const authority = new X509Certificate(created.certificate);
    expect(certificate.verify(authority.publicKey)).toBe(true);
    expect(certificate.validToDate).toEqual(notAfter);
    expect(authority.validToDate).toEqual(notAfter);
  });

  it('create a signing key pair whose halves belong together', async () => {
    const { privateKey, publicKey } = await createSigningKeyPair();
    const spki = { type: 'spki', format: 'der' } as const;
    const derived = createPublicKey(createPrivateKey(privateKey)).export(spki);
    expect(derived.equals(createPublicKey(publicKey).export(spki))).toBe(true);
  });
});
