// The fenced client against a local HTTPS server standing in for the API server: which requests reach it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHttpsStub, type HttpsStub } from '../test/support/https-stub.ts';
import { startTcpProxy } from '../test/support/tcp-proxy.ts';
import { FencedClient, FenceError, isFenced } from './fence.ts';
import type { Fence } from './leader-election.ts';

let stub: HttpsStub;
const received: string[] = [];
/** Requests to /hold are answered only when the test says so. */
const held: ServerResponse[] = [];

function answer(request: IncomingMessage, _body: string, response: ServerResponse): void {
  received.push(`${request.method ?? ''} ${request.url ?? ''}`);
  if (request.url === '/hold') {
    held.push(response);
    return;
  }
  response.setHeader('content-type', 'application/json');
  response.end('{}');
}

beforeAll(async () => {
  stub = await startHttpsStub(answer);
});

afterAll(async () => {
  await stub.close();
});

/** A fence the test sets by hand. */
function manualFence(): Fence & { certain: boolean; lose(): void } {
  const lost = new AbortController();
  return {
    certain: true,
    lost: lost.signal,
    reason: 'leadership lost: test',
    lose() {
      this.certain = false;
      lost.abort(new Error('lost'));
    },
  };
}

describe('FencedClient', () => {
  it('sends reads and writes while the fence is certain', async () => {
    received.length = 0;
    const client = new FencedClient(stub.kubeConfig, 'test', manualFence());
    await client.request({ path: '/read' });
    await client.request({
      method: 'PATCH',
      path: '/write',
      body: {},
      contentType: 'application/merge-patch+json',
    });
    expect(received).toEqual(['GET /read', 'PATCH /write']);
    client.close();
  });

  it('refuses every write once the fence is not certain, and still reads', async () => {
    received.length = 0;
    const fence = manualFence();
    const client = new FencedClient(stub.kubeConfig, 'test', fence);
    fence.lose();
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
      const refused = client.request({ method, path: '/write', body: {} });
      await expect(refused).rejects.toThrow(FenceError);
      await expect(refused.catch((error: unknown) => isFenced(error))).resolves.toBe(true);
      await expect(refused).rejects.toThrow(`${method} /write refused: leadership lost: test`);
    }
    await client.request({ path: '/read' });
    expect(received).toEqual(['GET /read']);
    client.close();
  });

  it('refuses a write whose fence became uncertain after the call, before it was written', async () => {
    received.length = 0;
    const fence = manualFence();
    const client = new FencedClient(stub.kubeConfig, 'test', fence);
    const write = client.request({ method: 'PATCH', path: '/write', body: {} });
    // Past the deadline while the request still gets its credentials and a connection, as a process paused
    // there finds on resuming; the term's loss is not yet noticed, so nothing aborts the request.
    fence.certain = false;
    await expect(write).rejects.toThrow('PATCH /write refused: leadership lost: test');
    await client.request({ path: '/read' });
    expect(received).toEqual(['GET /read']);
    client.close();
  });

  it('refuses a write whose fence became uncertain while its connection was being established', async () => {
    received.length = 0;
    const proxy = await startTcpProxy(stub.kubeConfig);
    proxy.hold();
    const fence = manualFence();
    const client = new FencedClient(proxy.kubeConfig, 'test', fence);
    try {
      const write = client.request({ method: 'PATCH', path: '/write', body: {} });
      // Connected, the TLS handshake held: a process paused in the handshake finds on resuming that its term
      // ran out. The request must not have been queued on the connection before.
      await proxy.held();
      fence.certain = false;
      proxy.release();
      await expect(write).rejects.toThrow('PATCH /write refused: leadership lost: test');
      expect(received).toEqual([]);
    } finally {
      client.close();
      await proxy.close();
    }
  });

  it('aborts a write in flight when leadership is lost, with a FenceError', async () => {
    received.length = 0;
    const fence = manualFence();
    const client = new FencedClient(stub.kubeConfig, 'test', fence);
    const caller = new AbortController();
    const write = client.request({ method: 'PUT', path: '/hold', body: {}, signal: caller.signal });
    const settled = write.then(
      () => 'answered',
      (error: unknown) => (isFenced(error) ? 'aborted' : String(error)),
    );
    while (held.length === 0) await new Promise((resolve) => setImmediate(resolve));
    fence.lose();
    await expect(settled).resolves.toBe('aborted');
    expect(caller.signal.aborted).toBe(false);
    held.splice(0).forEach((response) => response.end('{}'));
    client.close();
  });
});
