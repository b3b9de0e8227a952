import { once } from 'node:events';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Agent, request, type RequestOptions } from 'node:https';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import {
  createCertificateAuthority,
  type CertificateRequest,
  type KeyPair,
} from '../runtime/certificates.ts';
import type { WebhookReply } from './assign.ts';
import { eventually } from '../test/support/eventually.ts';
import { webhookPath } from './path.ts';
import { WebhookServer, type WebhookServerOptions } from './server.ts';

const logger = pino({ level: 'silent' });
const reply: WebhookReply = {
  statusCode: 200,
  body: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u', allowed: true } },
  result: 'unassigned',
};

interface Answer {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: unknown;
}

let ca: string;
let serving: KeyPair;
let rotatedCa: string;
let rotated: KeyPair;

beforeAll(async () => {
  const authority = await createCertificateAuthority('webhook-test-ca');
  const rotatedAuthority = await createCertificateAuthority('webhook-test-ca-2');
  const servingRequest: CertificateRequest = {
    commonName: 'webhook',
    ipAddresses: ['127.0.0.1'],
    usage: 'server',
  };
  ca = authority.certificate;
  serving = await authority.sign(servingRequest);
  rotatedCa = rotatedAuthority.certificate;
  rotated = await rotatedAuthority.sign(servingRequest);
});

let server: WebhookServer | undefined;
const calls: { ring: string; body: string }[] = [];
const observed: unknown[][] = [];

afterEach(async () => {
  await server?.stop();
  server = undefined;
  calls.length = 0;
  observed.length = 0;
});

async function start(options: Partial<WebhookServerOptions> = {}): Promise<number> {
  server = new WebhookServer({
    handler: {
      handle(ring, body) {
        calls.push({ ring, body: Buffer.from(body).toString('utf8') });
        return reply;
      },
    },
    tls: serving,
    logger,
    host: '127.0.0.1',
    port: 0,
    metrics: { request: (...args) => observed.push(args) },
    ...options,
  });
  return (await server.start()).port;
}

/** A POST to ring `web`'s webhook path, on a new connection unless an agent is given; not yet sent. */
function post(port: number, options: RequestOptions = {}): ClientRequest {
  return request({
    host: '127.0.0.1',
    port,
    path: webhookPath('web'),
    method: 'POST',
    ca,
    agent: false,
    ...options,
  });
}

/** Sends one request on a new connection (unless an agent is given) and reads the JSON answer. */
async function send(
  port: number,
  path: string,
  { body, chunks, ...options }: RequestOptions & { body?: string; chunks?: string[] } = {},
): Promise<Answer> {
  const outgoing = post(port, { path, ...options });
  for (const chunk of chunks ?? []) outgoing.write(chunk);
  outgoing.end(body);
  return answerTo(outgoing);
}

/** The answer to a request, its body parsed if it has one (node's own 408 has none). */
async function answerTo(outgoing: ClientRequest): Promise<Answer> {
  const [response] = (await once(outgoing, 'response')) as [IncomingMessage];
  let text = '';
  for await (const chunk of response) text += String(chunk);
  return {
    statusCode: response.statusCode ?? 0,
    headers: response.headers,
    body: text === '' ? undefined : JSON.parse(text),
  };
}

/** A call that declares a body of `length` bytes and sends only `sent` of it, for now. */
function unfinished(
  port: number,
  length: number,
  sent: string,
): { outgoing: ClientRequest; written: Promise<void> } {
  const outgoing = post(port, { headers: { 'content-length': length } });
  // Writes after the server closed the connection fail; the answer tells what happened.
  outgoing.on('error', () => undefined);
  const written = new Promise<void>((resolve) =>
    outgoing.write(sent, () => {
      resolve();
    }),
  );
  return { outgoing, written };
}

describe('WebhookServer', () => {
  it("hands a POST to a ring's webhook path to the handler and answers with its reply", async () => {
    const port = await start();
    const answer = await send(port, `${webhookPath('web')}?timeout=10s`, { body: '{"review":true}' });
    expect(calls).toEqual([{ ring: 'web', body: '{"review":true}' }]);
    expect(answer).toMatchObject({ statusCode: 200, body: reply.body });
    expect(answer.headers['content-type']).toBe('application/json');
    expect(observed).toEqual([['web', 'unassigned', 200, expect.any(Number)]]);
  });

  it.each([
    '/',
    '/healthz',
    '/webhooks/sharder/controllerring/',
    '/webhooks/sharder/controllerring/a/b',
    '/webhooks/sharder/controllerring/Not_A_Label',
  ])('answers 404 for %s', async (path) => {
    const port = await start();
    const answer = await send(port, path, { body: '{}' });
    expect(answer).toMatchObject({
      statusCode: 404,
      body: { kind: 'Status', code: 404, reason: 'NotFound' },
    });
    expect(calls).toEqual([]);
  });

  it('answers 405 for other methods', async () => {
    const port = await start();
    const answer = await send(port, webhookPath('web'), { method: 'GET' });
    expect(answer).toMatchObject({ statusCode: 405, body: { code: 405, reason: 'MethodNotAllowed' } });
    expect(answer.headers.allow).toBe('POST');
    expect(calls).toEqual([]);
  });

  it.each([
    ['declares a larger length', { body: 'x'.repeat(1025) }],
    ['streams more bytes than the limit', { chunks: ['x'.repeat(600), 'x'.repeat(600)] }],
  ])('answers 413 to a request that %s', async (_, content) => {
    const port = await start({ limits: { maxRequestBytes: 1024 } });
    const answer = await send(port, webhookPath('web'), content);
    expect(answer).toMatchObject({ statusCode: 413, body: { code: 413, reason: 'RequestEntityTooLarge' } });
    expect(answer.headers.connection).toBe('close');
    expect(calls).toEqual([]);
    expect(observed).toEqual([['web', 'refused', 413, expect.any(Number)]]);
  });

  it('accepts a body of exactly the limit', async () => {
    const port = await start({ limits: { maxRequestBytes: 1024 } });
    await expect(
      send(port, webhookPath('web'), { chunks: ['x'.repeat(1000)], body: 'x'.repeat(24) }),
    ).resolves.toMatchObject({ statusCode: 200 });
    expect(calls).toEqual([{ ring: 'web', body: 'x'.repeat(1024) }]);
  });

  it('shrugs off a client that goes away while sending', async () => {
    let failed!: () => void;
    const logged = new Promise<void>((resolve) => (failed = resolve));
    const destination = {
      write(line: string): void {
        if (line.includes('webhook call failed')) failed();
      },
    };
    const port = await start({ logger: pino({ level: 'warn' }, destination) });
    const abandoned = post(port, { headers: { 'content-length': 100, expect: '100-continue' } });
    abandoned.on('error', () => undefined);
    abandoned.flushHeaders();
    await once(abandoned, 'continue');
    abandoned.destroy();
    await logged;
    await expect(send(port, webhookPath('web'), { body: '{}' })).resolves.toMatchObject({ statusCode: 200 });
    expect(calls).toEqual([{ ring: 'web', body: '{}' }]);
  });

  it('serves new connections with a rotated certificate, and keeps the old one when the new one is invalid', async () => {
    const port = await start();
    expect(() => {
      server?.updateCertificate({ certificate: 'not a certificate', privateKey: rotated.privateKey });
    }).toThrow();
    await expect(send(port, webhookPath('web'), { body: '{}' })).resolves.toMatchObject({ statusCode: 200 });

    server?.updateCertificate(rotated);
    await expect(send(port, webhookPath('web'), { body: '{}', ca: rotatedCa })).resolves.toMatchObject({
      statusCode: 200,
    });
    await expect(send(port, webhookPath('web'), { body: '{}' })).rejects.toThrow(/certificate/);
  });

  it('stops accepting connections on stop, answers the call in flight, then resolves', async () => {
    const port = await start();
    const agent = new Agent({ keepAlive: true });
    const body = '{"slow":true}';
    const inFlight = post(port, {
      agent,
      // The server's 100 Continue tells that it has read the headers: the call is in flight.
      headers: { 'content-length': body.length, expect: '100-continue' },
    });
    inFlight.flushHeaders();
    await once(inFlight, 'continue');
    let stopped = false;
    const stopping = server?.stop().then(() => (stopped = true));
    await expect(send(port, webhookPath('web'), { body: '{}' })).rejects.toThrow(/ECONNREFUSED/);
    expect(stopped).toBe(false);

    inFlight.end(body);
    const [response] = (await once(inFlight, 'response')) as [IncomingMessage];
    response.resume();
    expect(response.statusCode).toBe(200);
    expect(response.headers.connection).toBe('close');
    // Without closing it, the kept-alive connection would hold stop() for the server's keep-alive timeout.
    await stopping;
    expect(calls).toEqual([{ ring: 'web', body }]);
    agent.destroy();
  });

  it('closes connections without a call in flight on stop', async () => {
    const port = await start();
    const agent = new Agent({ keepAlive: true });
    try {
      // A kept-alive connection after its call, and one that never had a call (the API server leaves such).
      await send(port, webhookPath('web'), { body: '{}', agent });
      const spare = connect({ host: '127.0.0.1', port, ca });
      // The TLS 1.3 session ticket comes after the server completed its side of the handshake.
      await once(spare, 'session');
      const spareClosed = once(spare, 'close');
      const started = performance.now();
      await server?.stop();
      // Rather than after the server's keep-alive timeout of 5 s, or never for the spare connection.
      expect(performance.now() - started).toBeLessThan(2_500);
      await spareClosed;
    } finally {
      agent.destroy();
    }
  });
});

describe('WebhookServer bounds what calls cost', () => {
  const mebibyte = 1024 * 1024;

  it('by default takes a body of 4 MiB (an UPDATE of a 1.5 MiB object, base64 grown) and refuses a larger one before it is sent', async () => {
    const port = await start();
    const { outgoing } = unfinished(port, 4 * mebibyte + 1, 'x'.repeat(16 * 1024));
    const refused = await answerTo(outgoing);
    expect(refused).toMatchObject({ statusCode: 413, body: { code: 413, reason: 'RequestEntityTooLarge' } });
    expect(refused.headers.connection).toBe('close');
    outgoing.destroy();
    await expect(send(port, webhookPath('web'), { body: 'x'.repeat(4 * mebibyte) })).resolves.toMatchObject({
      statusCode: 200,
    });
    expect(calls.map(({ body }) => body.length)).toEqual([4 * mebibyte]);
  });

  it('closes a call whose body is not in within the request timeout, and lets go of its bytes', async () => {
    const port = await start({
      limits: { maxRequestBytes: 1024, maxInFlightBytes: 1024, headersTimeoutMs: 200, requestTimeoutMs: 400 },
    });
    // A byte now and then: the connection is never idle, the body never complete.
    const { outgoing, written } = unfinished(port, 1024, 'x'.repeat(600));
    await written;
    const trickle = setInterval(() => outgoing.write('x'), 50);
    try {
      const answer = await answerTo(outgoing);
      expect(answer).toMatchObject({ statusCode: 408 });
      expect(answer.headers.connection).toBe('close');
    } finally {
      clearInterval(trickle);
    }
    expect(calls).toEqual([]);
    // Its 600 bytes no longer count against the in-flight limit.
    await expect(send(port, webhookPath('web'), { body: 'x'.repeat(1000) })).resolves.toMatchObject({
      statusCode: 200,
    });
  });

  it('closes connections that stay idle: without a TLS handshake, without a request, or after a call', async () => {
    const port = await start({
      limits: {
        handshakeTimeoutMs: 200,
        headersTimeoutMs: 200,
        requestTimeoutMs: 400,
        keepAliveTimeoutMs: 100,
      },
    });
    // Each is read to its end, which the server's close brings.
    const tcp = collect(connectTcp(port, '127.0.0.1'));
    const noRequest = connect({ host: '127.0.0.1', port, ca });
    const afterCall = connect({ host: '127.0.0.1', port, ca });
    const received = [collect(noRequest), collect(afterCall)];
    await once(afterCall, 'secureConnect');
    afterCall.write(`POST ${webhookPath('web')} HTTP/1.1\r\nhost: webhook\r\ncontent-length: 2\r\n\r\n{}`);
    await expect(tcp).resolves.toBe('');
    const [toNoRequest, toCall] = await Promise.all(received);
    expect(toNoRequest).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(toCall).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(toCall).not.toMatch(/408/);
    expect(calls).toEqual([{ ring: 'web', body: '{}' }]);
  });

  it('closes connections beyond maxConnections at once, and takes new ones when others have gone', async () => {
    const port = await start({ limits: { maxConnections: 2 } });
    const held = [connect({ host: '127.0.0.1', port, ca }), connect({ host: '127.0.0.1', port, ca })];
    await Promise.all(held.map((socket) => once(socket, 'secureConnect')));
    const third = connect({ host: '127.0.0.1', port, ca });
    const outcome = await new Promise<string>((resolve) => {
      third.once('secureConnect', () => {
        resolve('connected');
      });
      third.once('error', () => {
        resolve('closed');
      });
      third.once('close', () => {
        resolve('closed');
      });
    });
    expect(outcome).toBe('closed');
    for (const socket of held) socket.destroy();
    await eventually(async () => {
      await expect(send(port, webhookPath('web'), { body: '{}' })).resolves.toMatchObject({
        statusCode: 200,
      });
    });
  });

  it('answers 429 at once when the bodies being received would exceed maxInFlightBytes, declared or chunked, and serves again once they are in', async () => {
    const port = await start({ limits: { maxRequestBytes: 1024, maxInFlightBytes: 2048 } });
    const first = unfinished(port, 1024, 'a'.repeat(1000));
    const second = unfinished(port, 1024, 'b'.repeat(1000));
    await Promise.all([first.written, second.written]);
    // A new connection's TLS handshake takes round trips: by its end the server has read the headers sent
    // before, and the two declared bodies take the whole limit.
    for (const content of [{ body: 'c'.repeat(100) }, { chunks: ['c'.repeat(100)] }]) {
      const refused = await send(port, webhookPath('web'), content);
      expect(refused).toMatchObject({ statusCode: 429, body: { code: 429, reason: 'TooManyRequests' } });
      expect(refused.headers.connection).toBe('close');
    }
    first.outgoing.end('a'.repeat(24));
    second.outgoing.end('b'.repeat(24));
    const answers = await Promise.all([answerTo(first.outgoing), answerTo(second.outgoing)]);
    expect(answers.map(({ statusCode }) => statusCode)).toEqual([200, 200]);
    await expect(send(port, webhookPath('web'), { body: 'c'.repeat(1000) })).resolves.toMatchObject({
      statusCode: 200,
    });
    expect(calls.map(({ body }) => body).sort()).toEqual([
      'a'.repeat(1024),
      'b'.repeat(1024),
      'c'.repeat(1000),
    ]);
    expect(observed).toContainEqual(['web', 'refused', 429, expect.any(Number)]);
  });

  it('refuses an in-flight limit below the request limit', () => {
    expect(
      () =>
        new WebhookServer({
          handler: { handle: () => reply },
          tls: serving,
          logger,
          limits: { maxRequestBytes: 2048, maxInFlightBytes: 1024 },
        }),
    ).toThrow(/in-flight limit \(1024 bytes\) is below its request limit \(2048 bytes\)/);
  });
});

/** Everything `socket` receives until it closes. */
async function collect(socket: Socket): Promise<string> {
  let text = '';
  for await (const chunk of socket) text += String(chunk);
  return text;
}
