// The sharder's admission webhook server: HTTPS, one path per ring (path.ts), each call answered by the
// assignment handler. Every sharder replica runs one. The API server calls it only for unassigned objects and
// with failurePolicy Ignore, so a failure here postpones an assignment to the next sync but blocks no write.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { Socket } from 'node:net';
import type { KeyPair } from '../runtime/certificates.ts';
import type { Logger } from '../runtime/logger.ts';
import { failureStatus } from './admission.ts';
import type { IStatus } from '@kubernetes-models/apimachinery/apis/meta/v1/Status';
import type { AdmissionResult, WebhookReply } from './assign.ts';
import { ringOfPath, webhookPath } from './path.ts';

/** Answers one call of a ring's webhook; Assigner implements it. */
export interface AdmissionHandler {
  /** `body` is the request body as received: JSON, which the handler decodes. */
  handle(ring: string, body: Uint8Array): Promise<WebhookReply> | WebhookReply;
}

/**
 * How a call ended: the handler's result, or `refused` when the server answered before reading the whole
 * body (413: larger than maxRequestBytes; 429: over maxInFlightBytes).
 */
export type CallResult = AdmissionResult | 'refused';

/** Hooks for a Prometheus layer. */
export interface WebhookMetrics {
  /** One answered call of `ring`'s webhook: how it ended, its HTTP status code and its duration in seconds. */
  request(ring: string, result: CallResult, statusCode: number, seconds: number): void;
}

const noMetrics: WebhookMetrics = { request() {} };

/** controller-runtime's webhook port. */
export const defaultWebhookPort = 9443;

/**
 * What one call and all calls together may cost the server (docs/limits.md). The API server calls the webhook
 * with a timeout of seconds (the webhook configuration's timeoutSeconds: 3 by default, at most 30) and with
 * failurePolicy Ignore, so a call refused or cut short costs no write: the object is admitted unassigned, and
 * the sharder's sync assigns it.
 */
export interface WebhookLimits {
  /** Larger request bodies are answered with 413 without being read further. */
  maxRequestBytes: number;
  /**
   * Bytes of request bodies being received, across all calls (a declared body counts whole from its
   * headers): a call whose body would go beyond is answered with 429 and its connection closed, unread.
   */
  maxInFlightBytes: number;
  /** Open connections, TLS handshakes included: node closes further ones as they come. */
  maxConnections: number;
  /** A request's headers must fit in this many bytes (node answers 431). */
  maxHeaderBytes: number;
  /** A connection's TLS handshake must be done within this time. */
  handshakeTimeoutMs: number;
  /** A request's headers, from the start of the request (or of the connection), must be in within this time. */
  headersTimeoutMs: number;
  /** A whole request, headers and body, must be in within this time (node answers 408 and closes). */
  requestTimeoutMs: number;
  /** A connection idle between calls is closed after this time (and node's 1 s keepAliveTimeoutBuffer). */
  keepAliveTimeoutMs: number;
}

const mebibyte = 1024 * 1024;

export const defaultWebhookLimits: Readonly<WebhookLimits> = {
  // The largest real review is an UPDATE's, which carries the object and its old version. etcd refuses
  // requests over 1.5 MiB by default (--max-request-bytes), so no stored object is larger, and a larger new
  // one (the API server takes 3 MiB bodies) is for a write that fails anyway. Custom resources are stored as
  // JSON: two of 1.5 MiB make a 3 MiB review. ConfigMaps and Secrets hold at most 1 MiB of data, whose bytes
  // grow by 4/3 as base64: two make 2.7 MiB (test/integration/webhook.test.ts measures it). Other built-in
  // kinds are stored as protobuf and grow somewhat as JSON; 4 MiB leaves them 2 MiB each, and the review's
  // own fields (a few KiB) fit in what the object's key and metadata take of etcd's 1.5 MiB. A review beyond
  // that gets 413: with failurePolicy Ignore its object is admitted unassigned, and the sync assigns it.
  maxRequestBytes: 4 * mebibyte,
  // Four of the largest reviews at once; the API server's usual calls are a few KiB each. A body is held once,
  // in a buffer of its declared size (decoding builds only its metadata), so this bounds their memory.
  maxInFlightBytes: 16 * mebibyte,
  // HTTP/1.1 carries one call at a time per connection: the API servers open as many as they have calls in
  // flight and keep some idle. An open TLS connection costs some tens of KiB.
  maxConnections: 256,
  // node's default; the API server sends a few hundred bytes of headers.
  maxHeaderBytes: 16 * 1024,
  handshakeTimeoutMs: 5_000,
  headersTimeoutMs: 5_000,
  // The API server sends a review at once and gives up after timeoutSeconds anyway.
  requestTimeoutMs: 10_000,
  // node's default: the API server's client reuses idle connections sooner or opens new ones.
  keepAliveTimeoutMs: 5_000,
};

export interface WebhookServerOptions {
  handler: AdmissionHandler;
  /** The serving certificate and its key (PEM); replace them with updateCertificate when they are rotated. */
  tls: KeyPair;
  logger: Logger;
  /** Default: all interfaces. */
  host?: string;
  /** Default defaultWebhookPort; 0 picks a free port. */
  port?: number;
  /** Each default from defaultWebhookLimits. */
  limits?: Partial<WebhookLimits>;
  metrics?: WebhookMetrics;
}

export class WebhookServer {
  readonly #server: Server;
  readonly #handler: AdmissionHandler;
  readonly #logger: Logger;
  readonly #host: string | undefined;
  readonly #port: number;
  readonly #limits: WebhookLimits;
  readonly #metrics: WebhookMetrics;
  /** Every open connection, with the number of its calls in flight. */
  readonly #connections = new Map<Socket, number>();
  /** Bytes of request bodies being received: declared ones whole, chunked ones as received. */
  #inFlightBytes = 0;
  #stopping = false;

  constructor(options: WebhookServerOptions) {
    this.#handler = options.handler;
    this.#logger = options.logger;
    this.#host = options.host;
    this.#port = options.port ?? defaultWebhookPort;
    const limits = { ...defaultWebhookLimits, ...options.limits };
    if (limits.maxInFlightBytes < limits.maxRequestBytes) {
      throw new Error(
        `the webhook's in-flight limit (${limits.maxInFlightBytes} bytes) is below its request limit (${limits.maxRequestBytes} bytes): the largest requests would always be refused`,
      );
    }
    this.#limits = limits;
    this.#metrics = options.metrics ?? noMetrics;
    // node enforces the timeouts: it answers 408 and closes the connection. It checks them every
    // connectionsCheckingInterval (30 s by default), which is made short enough to hold them within 25 %.
    this.#server = createServer(
      {
        cert: options.tls.certificate,
        key: options.tls.privateKey,
        handshakeTimeout: limits.handshakeTimeoutMs,
        headersTimeout: limits.headersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.keepAliveTimeoutMs,
        connectionsCheckingInterval: Math.min(1_000, limits.headersTimeoutMs / 4),
        maxHeaderSize: limits.maxHeaderBytes,
      },
      (request, response) => {
        this.#serve(request, response).catch((error: unknown) => {
          // The client went away or timed out while sending its request: there is nobody to answer.
          this.#logger.warn({ err: error }, 'webhook call failed');
          response.destroy();
        });
      },
    );
    this.#server.maxConnections = limits.maxConnections;
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
    // them until the headers timeout. Every connection without a call in flight goes now, the others once answered (#send).
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
    const body = await this.#readBody(request);
    let reply: { statusCode: number; body: unknown; result: CallResult };
    if (typeof body === 'number') {
      // The rest of the body is not read: the connection closes after the answer instead.
      response.setHeader('connection', 'close');
      reply = { statusCode: body, body: refusal(body, this.#limits), result: 'refused' };
    } else {
      reply = await this.#handler.handle(ring, body);
    }
    this.#send(response, reply.statusCode, reply.body);
    this.#metrics.request(ring, reply.result, reply.statusCode, (performance.now() - started) / 1000);
  }

  /**
   * The request body, or the status to refuse it with before reading it all: 413 if it is larger than
   * maxRequestBytes, 429 if the bodies being received would take more than maxInFlightBytes. Rejects if the
   * client goes away or node's request timeout ends the request first.
   */
  #readBody(request: IncomingMessage): Promise<Buffer | 413 | 429> {
    const { maxRequestBytes, maxInFlightBytes } = this.#limits;
    // node has checked that a Content-Length is a number, and ends the body there.
    const header = request.headers['content-length'];
    const declared = header === undefined ? undefined : Number(header);
    if (declared !== undefined && declared > maxRequestBytes) return Promise.resolve(413);
    // A declared body (the API server always declares it) takes its room at once, before a byte of it is
    // read, and is read into one buffer of its size; a chunked body takes room as its chunks come.
    if (declared !== undefined && this.#inFlightBytes + declared > maxInFlightBytes) {
      return Promise.resolve(429);
    }
    return new Promise((resolve, reject) => {
      let taken = declared ?? 0;
      this.#inFlightBytes += taken;
      const body = declared === undefined ? undefined : Buffer.allocUnsafe(declared);
      const chunks: Buffer[] = [];
      let size = 0;
      let settled = false;
      const settle = (outcome: Buffer | 413 | 429 | Error): void => {
        if (settled) return;
        settled = true;
        request.off('data', onData);
        this.#inFlightBytes -= taken;
        if (outcome instanceof Error) reject(outcome);
        else resolve(outcome);
      };
      const onData = (chunk: Buffer): void => {
        if (body !== undefined) {
          chunk.copy(body, size);
          size += chunk.length;
        } else if (size + chunk.length > maxRequestBytes) {
          request.pause();
          settle(413);
        } else if (this.#inFlightBytes + chunk.length > maxInFlightBytes) {
          request.pause();
          settle(429);
        } else {
          size += chunk.length;
          taken += chunk.length;
          this.#inFlightBytes += chunk.length;
          chunks.push(chunk);
        }
      };
      request.on('data', onData);
      // Its bytes count until here: the handler decodes the body at once, before another body can come in.
      request.once('end', () => {
        settle(body ?? Buffer.concat(chunks, size));
      });
      request.once('error', settle);
      request.once('close', () => {
        // Every request closes, most after their end: an Error, which captures a stack, only for the others.
        if (!settled) settle(new Error('the connection closed before the request body was complete'));
      });
    });
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

/** The Status refusing a request before reading all of its body. */
function refusal(statusCode: 413 | 429, limits: WebhookLimits): IStatus {
  return statusCode === 413
    ? failureStatus(
        413,
        'RequestEntityTooLarge',
        `the request body is larger than ${limits.maxRequestBytes} bytes`,
      )
    : failureStatus(
        429,
        'TooManyRequests',
        `the webhook is receiving ${limits.maxInFlightBytes} bytes of other requests' bodies already: try again later`,
      );
}
