// The sharder's admission webhook server: HTTPS, one path per ring (path.ts), each call answered by the
// assignment handler. Every sharder replica runs one. The API server calls it only for unassigned objects and
// with failurePolicy Ignore, so a failure here postpones an assignment to the next sync but blocks no write.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { KeyPair } from '../runtime/certificates.ts';
import type { Logger } from '../runtime/logger.ts';
import { failureStatus } from './admission.ts';
import type { AdmissionResult, WebhookReply } from './assign.ts';
import { ringOfPath, webhookPath } from './path.ts';

/** Answers one call of a ring's webhook; Assigner implements it. */
export interface AdmissionHandler {
  handle(ring: string, body: string): WebhookReply;
}

/** Hooks for a Prometheus layer. */
export interface WebhookMetrics {
  /** One answered call of `ring`'s webhook: how it ended, its HTTP status code and its duration in seconds. */
  request(ring: string, result: AdmissionResult, statusCode: number, seconds: number): void;
}

const noMetrics: WebhookMetrics = { request() {} };

/** controller-runtime's webhook port. */
export const defaultWebhookPort = 9443;

// An UPDATE's review carries the object and its old version, each up to the API server's request limit of
// 3 MiB, so a 3 MiB limit would turn away updates of large objects (controller-runtime allows 7 MiB too).
export const defaultMaxRequestBytes = 7 * 1024 * 1024;

export interface WebhookServerOptions {
  handler: AdmissionHandler;
  /** The serving certificate and its key (PEM); replace them with updateCertificate when they are rotated. */
  tls: KeyPair;
  logger: Logger;
  /** Default: all interfaces. */
  host?: string;
  /** Default defaultWebhookPort; 0 picks a free port. */
  port?: number;
  /** Larger request bodies are answered with 413. Default defaultMaxRequestBytes. */
  maxRequestBytes?: number;
  metrics?: WebhookMetrics;
}

export class WebhookServer {
  readonly #server: Server;
  readonly #handler: AdmissionHandler;
  readonly #logger: Logger;
  readonly #host: string | undefined;
  readonly #port: number;
  readonly #maxRequestBytes: number;
  readonly #metrics: WebhookMetrics;
  /** Every open connection, with the number of its calls in flight. */
  readonly #connections = new Map<Socket, number>();
  #stopping = false;

  constructor(options: WebhookServerOptions) {
    this.#handler = options.handler;
    this.#logger = options.logger;
    this.#host = options.host;
    this.#port = options.port ?? defaultWebhookPort;
    this.#maxRequestBytes = options.maxRequestBytes ?? defaultMaxRequestBytes;
    this.#metrics = options.metrics ?? noMetrics;
    this.#server = createServer(
      { cert: options.tls.certificate, key: options.tls.privateKey },
      (request, response) => {
        this.#serve(request, response).catch((error: unknown) => {
          // The client went away while sending its request: there is nobody to answer.
          this.#logger.warn({ err: error }, 'webhook call failed');
          response.destroy();
        });
      },
    );
    this.#server.on('secureConnection', (socket: Socket) => {
      // Its handshake was under way when stop() began: it has no call yet and would keep stop() waiting.
      if (this.#stopping) {
        socket.destroy();
        return;
      }
      this.#connections.set(socket, 0);
      socket.once('close', () => this.#connections.delete(socket));
    });
  }

  /** Starts listening; resolves with the port, which is a free one if the configured port is 0. */
  async start(): Promise<{ port: number }> {
    const server = this.#server;
    this.#stopping = false;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.#port, this.#host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    if (address === null || typeof address === 'string') {
      throw new Error('the webhook server has no TCP port');
    }
    this.#logger.info({ port: address.port }, 'webhook server listening');
    return { port: address.port };
  }

  /** Stops accepting connections and resolves once the calls in flight are answered. */
  async stop(): Promise<void> {
    if (!this.#server.listening) return;
    this.#stopping = true;
    const closed = new Promise<void>((resolve, reject) => {
      this.#server.close((error) => {
        if (error) reject(error);
        else resolve();
      });
    });
    // close() ends only the connections that node:http deems idle, and not those on which no request has
    // started yet: the API server's HTTP client leaves such spare connections open, and stop() would wait for
    // them forever. Every connection without a call in flight goes now, the others once answered (#send).
    for (const [socket, calls] of this.#connections) if (calls === 0) socket.destroy();
    await closed;
  }

  /** Serves new connections with a rotated certificate; throws, keeping the old one, if it is invalid. */
  updateCertificate(tls: KeyPair): void {
    this.#server.setSecureContext({ cert: tls.certificate, key: tls.privateKey });
  }

  async #serve(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const started = performance.now();
    this.#countCall(request.socket, 1);
    response.once('close', () => {
      this.#countCall(request.socket, -1);
    });
    const pathname = (request.url ?? '').split('?', 1)[0] ?? '';
    const ring = ringOfPath(pathname);
    if (ring === undefined) {
      const message = `there is no webhook at ${pathname}: ring webhooks are served at ${webhookPath('<ring>')}`;
      this.#send(response, 404, failureStatus(404, 'NotFound', message));
      return;
    }
    if (request.method !== 'POST') {
      response.setHeader('allow', 'POST');
      const message = `webhooks are called with POST, not ${request.method ?? 'no method'}`;
      this.#send(response, 405, failureStatus(405, 'MethodNotAllowed', message));
      return;
    }
    const body = await readBody(request, this.#maxRequestBytes);
    let reply: WebhookReply;
    if (body === undefined) {
      // The rest of the body is not read: the connection closes after the answer instead.
      response.setHeader('connection', 'close');
      const message = `the request body is larger than ${this.#maxRequestBytes} bytes`;
      reply = {
        statusCode: 413,
        body: failureStatus(413, 'RequestEntityTooLarge', message),
        result: 'invalid',
      };
    } else {
      reply = this.#handler.handle(ring, body);
    }
    this.#send(response, reply.statusCode, reply.body);
    this.#metrics.request(ring, reply.result, reply.statusCode, (performance.now() - started) / 1000);
  }

  #countCall(socket: Socket, change: 1 | -1): void {
    const calls = this.#connections.get(socket);
    if (calls !== undefined) this.#connections.set(socket, calls + change);
  }

  #send(response: ServerResponse, statusCode: number, body: unknown): void {
    if (this.#stopping) response.setHeader('connection', 'close');
    response.writeHead(statusCode, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  }
}

/** The request body as text, or undefined if it is larger than `limit` bytes. */
function readBody(request: IncomingMessage, limit: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    if (Number(request.headers['content-length'] ?? 0) > limit) {
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size <= limit) {
        chunks.push(chunk);
        return;
      }
      request.off('data', onData);
      request.pause();
      resolve(undefined);
    };
    request.on('data', onData);
    request.once('end', () => {
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
    request.once('error', reject);
  });
}
