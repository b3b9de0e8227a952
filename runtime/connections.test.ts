// The REST client's connections against a local HTTPS server behind a TCP proxy that holds TLS handshakes.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { createSecureContext, type TLSSocket } from 'node:tls';
import { startHttpsStub, type HttpsStub } from '../test/support/https-stub.ts';
import { startTcpProxy, type TcpProxy } from '../test/support/tcp-proxy.ts';
import { connectionAgent } from './connections.ts';
import { http } from './node-http.ts';

let stub: HttpsStub;
let proxy: TcpProxy;

beforeAll(async () => {
  stub = await startHttpsStub((_request, _body, response) => response.end('{}'));
  proxy = await startTcpProxy(stub.kubeConfig);
});

afterAll(async () => {
  await proxy.close();
  await stub.close();
});

/** A GET through the proxy with an agent of `connectTimeoutMs`, and the agent to destroy after. */
function get(connectTimeoutMs: number): { request: ClientRequest; destroy: () => void } {
  const server = new URL(proxy.kubeConfig.getCurrentCluster()?.server ?? '');
  const ca = Buffer.from(stub.kubeConfig.getCurrentCluster()?.caData ?? '', 'base64');
  const agent = connectionAgent({
    server,
    tls: { secureContext: createSecureContext({ ca }) },
    connectTimeoutMs,
    idleTimeoutMs: 10_000,
  });
  const request = http.request({
    agent,
    protocol: server.protocol,
    hostname: server.hostname,
    port: server.port,
  });
  request.end();
  return {
    request,
    destroy: () => {
      agent.destroy();
    },
  };
}

describe('connectionAgent', () => {
  it('hands a request its connection only once TLS is established', async () => {
    proxy.hold();
    const { request, destroy } = get(10_000);
    try {
      let given: Socket | undefined;
      request.once('socket', (socket) => (given = socket));
      await proxy.held();
      // The TCP connection is made, the handshake held: the request has no connection yet.
      await new Promise((resolve) => setImmediate(resolve));
      expect(given).toBeUndefined();
      proxy.release();
      const [response] = (await once(request, 'response')) as [IncomingMessage];
      expect(response.statusCode).toBe(200);
      expect((given as TLSSocket | undefined)?.getProtocol()).toMatch(/^TLSv1\.[23]$/);
      response.resume();
    } finally {
      proxy.release();
      destroy();
    }
  });

  it('serves a plain http: server too, its connection handed over connected and kept', async () => {
    const server = http.createServer((_request, response) => response.end('{}'));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const agent = connectionAgent({
      server: new URL(`http://127.0.0.1:${port}`),
      connectTimeoutMs: 10_000,
      idleTimeoutMs: 10_000,
    });
    try {
      const sockets: Socket[] = [];
      const connecting: boolean[] = [];
      for (let i = 0; i < 2; i++) {
        const request = http.request({ agent, hostname: '127.0.0.1', port });
        request.once('socket', (socket) => {
          sockets.push(socket);
          connecting.push(socket.connecting);
        });
        request.end();
        const [response] = (await once(request, 'response')) as [IncomingMessage];
        expect(response.statusCode).toBe(200);
        response.resume();
        await once(response, 'end');
        // Freed to the agent on the next turn, before the next request asks for one.
        await new Promise((resolve) => setImmediate(resolve));
      }
      expect(connecting).toEqual([false, false]);
      expect(sockets[1]).toBe(sockets[0]);
    } finally {
      agent.destroy();
      server.close();
    }
  });

  it('fails a connection not established within the connect timeout', async () => {
    proxy.hold();
    const { request, destroy } = get(100);
    try {
      const [error] = (await once(request, 'error')) as [Error];
      expect(error.message).toBe('connection not established within 100 ms');
    } finally {
      proxy.release();
      destroy();
    }
  });
});
