// The throttled client against a local HTTPS server: requests reach it at the bucket's rate, fenced as before.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { startHttpsStub, type HttpsStub } from '../test/support/https-stub.ts';
import type { Clock } from '../runtime/clock.ts';
import { FenceError } from '../runtime/fence.ts';
import type { Fence } from '../runtime/leader-election.ts';
import { TokenBucket } from '../runtime/rate-limiter.ts';
import { ThrottledClient } from './throttled-client.ts';

let stub: HttpsStub;
const received: string[] = [];

function answer(request: IncomingMessage, _body: string, response: ServerResponse): void {
  received.push(`${request.method ?? ''} ${request.url ?? ''}`);
  response.setHeader('content-type', 'application/json');
  response.end('{}');
}

beforeAll(async () => {
  stub = await startHttpsStub(answer);
});

afterAll(async () => {
  await stub.close();
});

/** Time stands still until the test fires the timers it scheduled. */
function frozenClock(): Clock & { fire(): void } {
  let timers: (() => void)[] = [];
  return {
    now: () => 0,
    schedule(fire) {
      timers.push(fire);
      return () => {
        timers = timers.filter((other) => other !== fire);
      };
    },
    fire() {
      const due = timers;
      timers = [];
      for (const fire of due) fire();
    },
  };
}

const certain: Fence = { certain: true, lost: new AbortController().signal, reason: '' };

describe('ThrottledClient', () => {
  it('sends the burst at once and each further request, read or write, when its token is there', async () => {
    received.length = 0;
    const clock = frozenClock();
    const client = new ThrottledClient(
      stub.kubeConfig,
      'test',
      certain,
      new TokenBucket({ qps: 1, burst: 2, clock }),
    );
    await Promise.all([client.request({ path: '/a' }), client.request({ path: '/b' })]);
    const later = [client.request({ path: '/c' }), client.request({ method: 'POST', path: '/d', body: {} })];
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual(['GET /a', 'GET /b']);
    clock.fire();
    await Promise.all(later);
    expect(received.sort()).toEqual(['GET /a', 'GET /b', 'GET /c', 'POST /d']);
    client.close();
  });

  it('still refuses writes once the fence is not certain, and drops a waiter whose signal aborts', async () => {
    received.length = 0;
    const clock = frozenClock();
    const lost = { certain: false, lost: AbortSignal.abort(), reason: 'test' };
    const client = new ThrottledClient(
      stub.kubeConfig,
      'test',
      lost,
      new TokenBucket({ qps: 1, burst: 1, clock }),
    );
    await expect(client.request({ method: 'PUT', path: '/w', body: {} })).rejects.toThrow(FenceError);
    const stop = new AbortController();
    const waiting = client.request({ path: '/r', signal: stop.signal });
    stop.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    expect(received).toEqual([]);
    client.close();
  });
});
