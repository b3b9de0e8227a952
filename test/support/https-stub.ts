// An HTTPS server on 127.0.0.1 standing in for the API server in unit tests, with a KubeConfig that trusts it:
// the test's handler sees exactly the requests a client sent.
import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { createCertificateAuthority } from '../../runtime/certificates.ts';

export interface HttpsStub {
  kubeConfig: KubeConfig;
  close(): Promise<void>;
}

/** `handle` gets each request once its body has been read (as text). */
export async function startHttpsStub(
  handle: (request: IncomingMessage, body: string, response: ServerResponse) => void,
): Promise<HttpsStub> {
  const authority = await createCertificateAuthority('https-stub-ca');
  const serving = await authority.sign({ commonName: 'api', ipAddresses: ['127.0.0.1'], usage: 'server' });
  const server = createServer({ cert: serving.certificate, key: serving.privateKey }, (request, response) => {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk: string) => (body += chunk));
    request.on('end', () => {
      handle(request, body, response);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'stub', server: `https://127.0.0.1:${port}`, caData: btoa(authority.certificate) }],
    users: [{ name: 'anonymous' }],
    contexts: [{ name: 'stub', cluster: 'stub', user: 'anonymous' }],
    currentContext: 'stub',
  });
  return {
    kubeConfig,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}
