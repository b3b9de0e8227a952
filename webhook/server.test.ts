import { once } from 'node:events';
import { Agent, request, type RequestOptions } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { connect } from 'node:tls';
import { afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import {
  createCertificateAuthority,
  type CertificateRequest,
  type KeyPair,
} from '../runtime/certificates.ts';
import type { WebhookReply } from './assign.ts';
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
        calls.push({ ring, body });
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

/** Sends one request on a new connection (unless an agent is given) and reads the JSON answer. */
async function send(
  port: number,
  path: string,
  { body, chunks, ...options }: RequestOptions & { body?: string; chunks?: string[] } = {},
): Promise<Answer> {
  const outgoing = request({ host: '127.0.0.1', port, path, method: 'POST', ca, agent: false, ...options });
  for (const chunk of chunks ?? []) outgoing.write(chunk);
  outgoing.end(body);
  const [response] = (await once(outgoing, 'response')) as [IncomingMessage];
  let text = '';
  for await (const chunk of response) text += String(chunk);
  return { statusCode: response.statusCode ?? 0, headers: response.headers, body: JSON.parse(text) };
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
    const port = await start({ maxRequestBytes: 1024 });
    const answer = await send(port, webhookPath('web'), content);
    expect(answer).toMatchObject({ statusCode: 413, body: { code: 413, reason: 'RequestEntityTooLarge' } });
    expect(answer.headers.connection).toBe('close');
    expect(calls).toEqual([]);
    expect(observed).toEqual([['web', 'invalid', 413, expect.any(Number)]]);
  });

  it('accepts a body of exactly the limit', async () => {
    const port = await start({ maxRequestBytes: 1024 });
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
    const abandoned = request({
      host: '127.0.0.1',
      port,
      path: webhookPath('web'),
      method: 'POST',
      ca,
      agent: false,
      headers: { 'content-length': 100, expect: '100-continue' },
    });
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
    const inFlight = request({
      host: '127.0.0.1',
      port,
      path: webhookPath('web'),
      method: 'POST',
      ca,
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
