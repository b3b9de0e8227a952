// A small REST client for the Kubernetes API that speaks raw JSON. client-node's typed serializer drops
// fields outside its camelCase models and turns times into Dates; raw JSON keeps objects exactly as the API
// server sends them, typed with kubernetes-models' interfaces. A ClusterAccess (client-node's KubeConfig, or
// runtime/kubeconfig.ts's lighter one) provides auth and TLS; node's HTTP client does HTTP: connections kept
// alive (runtime/connections.ts), message framing (lengths), and TLS.
import type { Agent, ClientRequest, IncomingMessage, RequestOptions as HttpRequestOptions } from 'node:http';
import type { RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import { createSecureContext } from 'node:tls';
import { connectionAgent } from './connections.ts';
import { errorMessage } from './error-message.ts';
import { isExpected } from './expected-error.ts';
import { http } from './node-http.ts';

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestSpec {
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Query;
  body?: unknown;
  /** Content type of the body; PATCH needs one of the patch types. Default application/json. */
  contentType?: string;
  /** E.g. application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1 for metadata-only lists. */
  accept?: string;
  signal?: AbortSignal;
  /**
   * A successful answer's body is dropped as it arrives, unread, and request resolves undefined: for writes
   * whose result is of no use (the sync's patches), which would otherwise parse the object (its managedFields)
   * only to drop it. An error's Status is still read.
   */
  discardAnswer?: boolean;
  /**
   * Decodes a successful answer's body in place of JSON.parse: for a reader that needs only part of a large
   * answer (runtime/json-pick.ts). An error's Status is still parsed.
   */
  decode?: (body: Buffer) => unknown;
}

export interface ApiErrorDetails {
  /** The Status's reason, e.g. Conflict, AlreadyExists, NotFound. */
  reason?: string;
  /** The answer's body: the Status the API server sent, if it sent one. */
  body?: unknown;
  /** The request that failed: the message names it. */
  method?: string;
  path?: string;
}

/**
 * A Status the API server answered with (or a transport failure, with code 0). Its message names the request
 * ("PATCH /api/v1/namespaces/apps/configmaps/x: ..."); `detail` is what went wrong, as the server put it.
 */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string | undefined;
  readonly body: unknown;
  readonly detail: string;
  readonly method: string | undefined;
  readonly path: string | undefined;

  constructor(code: number, detail: string, { reason, body, method, path }: ApiErrorDetails = {}) {
    super(method === undefined || path === undefined ? detail : `${method} ${path}: ${detail}`);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.body = body;
    this.detail = detail;
    this.method = method;
    this.path = path;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof ApiError && error.code === 404;
}

export function isForbidden(error: unknown): error is ApiError {
  return error instanceof ApiError && error.code === 403;
}

export function isConflict(error: unknown): boolean {
  return error instanceof ApiError && error.code === 409;
}

export function isAlreadyExists(error: unknown): boolean {
  return error instanceof ApiError && error.code === 409 && error.reason === 'AlreadyExists';
}

export function isGone(error: unknown): boolean {
  return error instanceof ApiError && error.code === 410;
}

/**
 * Whether a retry may well succeed without anything changing: the request did not reach the API server or
 * found it overloaded or restarting (0, 429, 500, 502, 503, 504). Worth a warning rather than an error.
 */
export function isTransient(error: unknown): boolean {
  return error instanceof ApiError && [0, 429, 500, 502, 503, 504].includes(error.code);
}

export const patchTypes = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  strategicMerge: 'application/strategic-merge-patch+json',
  apply: 'application/apply-patch+yaml',
} as const;

export const metadataListAccept = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export const metadataAccept = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

// A connection attempt (TCP and TLS) that takes longer has failed.
const connectTimeoutMs = 10_000;
// The longest silence of a connection: while an ordinary request waits for its answer or the answer's next
// chunk, and while a kept connection waits for a request. The API server answers within its
// --request-timeout (60 s by default), with a Status if it has to give up; waiting a little longer lets that
// Status arrive instead of a bare client timeout. Idle connections are closed before the API server's idle
// timeout of 90 s, so that the client, not the server, closes them, and kept longer than the leader election's
// renewal interval. Watches have none: they are quiet for as long as nothing changes, and the server
// (timeoutSeconds) or the informer's own timer ends them.
const idleTimeoutMs = 70_000;

function pathWithQuery(path: string, query: Query = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) search.set(name, String(value));
  }
  const encoded = search.toString();
  return encoded === '' ? path : `${path}?${encoded}`;
}

/** An answer read whole: its status and its body. */
interface Answer {
  statusCode: number;
  body: Buffer;
}

/**
 * One request and its answer, read whole: it settles a promise with the answer's status and body, or with why
 * there is none. One object per request, its callbacks methods: it is also the abort listener of the caller's
 * signal (handleEvent).
 */
class Exchange {
  readonly #spec: RequestSpec;
  readonly #refuse: RestClientOptions['refuseWrite'];
  readonly #done: (exchange: Exchange) => void;
  #resolve!: (answer: Answer) => void;
  #reject!: (error: unknown) => void;
  #request: ClientRequest | undefined;
  /** Why the request was aborted, to tell from the transport's own failures. */
  #abortReason: Error | undefined;
  #settled = false;
  readonly #chunks: Buffer[] = [];
  readonly promise: Promise<Answer>;

  constructor(
    spec: RequestSpec,
    refuse: RestClientOptions['refuseWrite'],
    done: (exchange: Exchange) => void,
  ) {
    this.#spec = spec;
    this.#refuse = refuse;
    this.#done = done;
    this.promise = new Promise<Answer>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    spec.signal?.addEventListener('abort', this, { once: true });
  }

  /** Sends the request with `options` (its agent among them) and `body`. */
  send(options: HttpRequestOptions, body: string | undefined): void {
    if (this.#settled) return;
    const request = (this.#request = http.request(options));
    request.on('error', (error) => {
      this.#settle(undefined, error);
    });
    request.on('timeout', () =>
      request.destroy(new Error(`the connection was silent for ${idleTimeoutMs} ms`)),
    );
    request.once('socket', () => {
      this.#write(request, body);
    });
    request.once('response', (response) => {
      this.#receive(response);
    });
  }

  /** Ends the request with `reason` (rejecting with it): at once, also when it still waits for a connection. */
  abort(reason: Error): void {
    this.#abortReason ??= reason;
    this.#request?.destroy(reason);
    this.#settle(undefined, reason);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.abort((this.#spec.signal as AbortSignal).reason as Error);
  }

  // The fence's point (runtime/fence.ts): on an established connection (runtime/connections.ts), credentials
  // applied, and written in this same call. An Error `refuse` returns ends the request unsent, and the request
  // rejects with it.
  #write(request: ClientRequest, body: string | undefined): void {
    const { method } = this.#spec;
    const refusal = isWrite(method) ? this.#refuse?.(method, this.#spec.path) : undefined;
    if (refusal !== undefined) request.destroy(refusal);
    else request.end(body);
  }

  #receive(response: IncomingMessage): void {
    const statusCode = response.statusCode ?? 0;
    const keep = this.#spec.discardAnswer !== true || statusCode < 200 || statusCode >= 300;
    response.on('data', (chunk: Buffer) => {
      if (keep) this.#chunks.push(chunk);
    });
    response.on('end', () => {
      const chunks = this.#chunks;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      this.#settle({ statusCode, body }, undefined);
    });
    response.on('error', (error) => {
      this.#settle(undefined, error);
    });
    // After 'end' when the answer was whole: the error is made only when it is not (an Error's stack is dear).
    response.on('close', () => {
      if (!this.#settled) this.#settle(undefined, new Error('the connection closed before the answer ended'));
    });
  }

  #settle(answer: Answer | undefined, error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#spec.signal?.removeEventListener('abort', this);
    this.#done(this);
    if (answer !== undefined) this.#resolve(answer);
    // Aborts and the refusals of refuseWrite (expected errors) are the caller's own; the rest are transport
    // failures: an ApiError with code 0.
    else if (error === this.#abortReason || isExpected(error)) this.#reject(error);
    else this.#reject(transportError(this.#spec, error));
  }
}

/** Writes are what the fence refuses and abortWrites aborts: every method but GET. */
function isWrite(method: RequestSpec['method']): method is Exclude<RequestSpec['method'], 'GET' | undefined> {
  return method !== undefined && method !== 'GET';
}

/** A failure of the connection or its HTTP (no answer to read a status from): an ApiError with code 0. */
function transportError(spec: RequestSpec, error: unknown): ApiError {
  return new ApiError(0, errorMessage(error), { method: spec.method ?? 'GET', path: spec.path });
}

function apiError(spec: RequestSpec, code: number, text: string): ApiError {
  const request = { method: spec.method ?? 'GET', path: spec.path };
  try {
    const status = JSON.parse(text) as { message?: string; reason?: string };
    return new ApiError(code, status.message ?? text, { ...request, reason: status.reason, body: status });
  } catch {
    return new ApiError(code, text || `HTTP ${code}`, request);
  }
}

export interface RestClientOptions {
  /**
   * Whether to send a write (any method but GET), asked when it is about to be written to its connection:
   * an Error refuses it, and the request rejects with that Error. Without it every write is sent.
   */
  refuseWrite?: (method: string, path: string) => Error | undefined;
  /**
   * Aborts every write in flight, or still waiting for a connection, when it aborts (the request rejects with
   * its reason), and refuses every write after. One listener for the client, not one per request.
   */
  abortWrites?: AbortSignal;
}

/**
 * What the client needs of a kubeconfig's current context, as client-node's KubeConfig has it (so that an
 * author's KubeConfig is one as it is): the API server's URL, and for each request the TLS material (ca, cert,
 * key, servername, rejectUnauthorized) and credentials (headers such as authorization; auth as user:password).
 */
export interface ClusterAccess {
  getCurrentCluster(): { readonly server: string } | null;
  applyToHTTPSOptions(options: RequestOptions): Promise<void>;
}

/** The API server's URL, and the parts of it that every request's options take. */
interface Endpoint {
  server: string;
  url: URL;
  /** The Host header. */
  host: string;
  hostname: string;
  basePath: string;
}

export class RestClient {
  readonly #kubeConfig: ClusterAccess;
  readonly #userAgent: string;
  readonly #refuseWrite: RestClientOptions['refuseWrite'];
  readonly #abortWrites: AbortSignal | undefined;
  /** The writes in flight, when abortWrites is given. */
  readonly #writes = new Set<Exchange>();
  readonly #forget = (exchange: Exchange): void => {
    this.#writes.delete(exchange);
  };
  #agent: Agent | undefined;
  #endpoint: Endpoint | undefined;

  constructor(kubeConfig: ClusterAccess, userAgent = 'controller-rings', options: RestClientOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#userAgent = userAgent;
    this.#refuseWrite = options.refuseWrite;
    const abortWrites = (this.#abortWrites = options.abortWrites);
    abortWrites?.addEventListener(
      'abort',
      () => {
        for (const write of this.#writes) write.abort(abortWrites.reason as Error);
      },
      { once: true },
    );
  }

  /**
   * Sends one request and returns the answer, parsed as JSON or by `spec.decode`; a non-2xx answer throws an
   * ApiError.
   */
  async request<T>(spec: RequestSpec): Promise<T> {
    const { options, body: sent } = await this.#prepare(spec);
    if (spec.signal?.aborted === true) throw spec.signal.reason;
    const write = isWrite(spec.method) && this.#abortWrites !== undefined;
    if (write && this.#abortWrites.aborted) throw this.#abortWrites.reason;
    const exchange = new Exchange(spec, this.#refuseWrite, this.#forget);
    if (write) this.#writes.add(exchange);
    exchange.send(options, sent);
    const { statusCode, body } = await exchange.promise;
    if (statusCode < 200 || statusCode >= 300) throw apiError(spec, statusCode, body.toString());
    if (spec.decode !== undefined) return spec.decode(body) as T;
    return (body.length === 0 ? undefined : JSON.parse(body.toString())) as T;
  }

  /**
   * Watches `path` and calls `onEvent` for each event until the server ends the stream (resolves) or the
   * request fails (rejects). Abort `signal` to stop: that resolves too. `options.accept` selects the
   * representation, e.g. metadataAccept for PartialObjectMetadata events.
   */
  async watch<T>(
    path: string,
    query: Query,
    onEvent: (event: WatchEvent<T>) => void,
    signal: AbortSignal,
    options: { accept?: string } = {},
  ): Promise<void> {
    const spec: RequestSpec = { path, query: { ...query, watch: true }, signal, accept: options.accept };
    const { options: request } = await this.#prepare(spec);
    // A stream read as it comes, without an idle timeout; watches are GETs, which nothing refuses.
    const response = await this.#transport(spec, () => open({ ...request, signal, timeout: 0 }));
    const statusCode = response.statusCode ?? 0;
    if (statusCode !== 200)
      throw apiError(spec, statusCode, await this.#transport(spec, () => text(response)));
    try {
      // Events are newline-delimited JSON.
      for await (const line of createInterface({ input: response, crlfDelay: Infinity })) {
        if (line.trim() !== '') onEvent(JSON.parse(line) as WatchEvent<T>);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      // A handler that threw leaves the stream open: end it, which closes the connection.
      response.destroy();
    }
  }

  /** Closes the connections, ending requests and watches still in flight. */
  close(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }

  /** Runs `step`; a transport failure (not an abort) becomes an ApiError with code 0. */
  async #transport<R>(spec: RequestSpec, step: () => Promise<R>): Promise<R> {
    try {
      return await step();
    } catch (error) {
      if (spec.signal?.aborted) throw error;
      throw transportError(spec, error);
    }
  }

  /** The request's options, credentials applied and the client's agent among them, and its body. */
  async #prepare(spec: RequestSpec): Promise<{ options: HttpRequestOptions; body: string | undefined }> {
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    const endpoint = this.#endpointOf(cluster.server);
    // Credentials (e.g. a token from an exec plugin or a refreshed file) are applied anew for every request.
    const options: RequestOptions = {};
    await this.#kubeConfig.applyToHTTPSOptions(options);
    // Raw headers, name and value in turn: node then validates none of them again, nor adds any but the
    // framing's (content-length, connection); ours are well-formed, the credentials' the kubeconfig's.
    const headers = [
      'host',
      endpoint.host,
      'accept',
      spec.accept ?? 'application/json',
      'user-agent',
      this.#userAgent,
    ];
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      // A header of several values (client-node's may have them) is repeated, as node sends an array.
      for (const one of Array.isArray(value) ? value : [value]) {
        if (one !== undefined) headers.push(name, String(one));
      }
    }
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    if (body !== undefined) {
      headers.push('content-type', spec.contentType ?? 'application/json');
      headers.push('content-length', String(Buffer.byteLength(body)));
    }
    if (options.auth !== undefined && options.auth !== null) {
      headers.push('authorization', `Basic ${Buffer.from(options.auth).toString('base64')}`);
    }
    const agent = (this.#agent ??= this.#connect(endpoint.url, options));
    const path = spec.query === undefined ? spec.path : pathWithQuery(spec.path, spec.query);
    return {
      options: {
        agent,
        protocol: endpoint.url.protocol,
        hostname: endpoint.hostname,
        port: endpoint.url.port,
        path: `${endpoint.basePath}${path}`,
        method: spec.method ?? 'GET',
        headers,
      },
      body,
    };
  }

  /** What the requests to `server` need of its URL, parsed once. */
  #endpointOf(server: string): Endpoint {
    if (this.#endpoint?.server === server) return this.#endpoint;
    const url = new URL(server);
    return (this.#endpoint = {
      server,
      url,
      host: url.host,
      // URL keeps an IPv6 address's brackets, which a host name to connect to has not.
      hostname: url.hostname.replace(/^\[(.*)\]$/, '$1'),
      // A server URL may have a path (a proxy's), which every request's path continues.
      basePath: url.pathname.replace(/\/$/, ''),
    });
  }

  /** The client's connections, made with the TLS material of the first request's options. */
  #connect(server: URL, options: RequestOptions): Agent {
    // The agent client-node's KubeConfig sets is not used: one agent per client keeps connections alive (the
    // sync patches thousands of objects).
    return connectionAgent({
      server,
      tls: {
        // One TLS context for all connections: made from the CA, certificate and key per connection, it cost
        // a millisecond of CPU for each of the dozens of connections a sync opens at once.
        secureContext: createSecureContext({ ca: options.ca, cert: options.cert, key: options.key }),
        servername: options.servername ?? undefined,
        ...(options.rejectUnauthorized === undefined
          ? {}
          : { rejectUnauthorized: options.rejectUnauthorized }),
      },
      connectTimeoutMs,
      idleTimeoutMs,
    });
  }
}

/** Sends a request without a body and resolves with its answer's head, its body a stream to read. */
function open(options: HttpRequestOptions): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const request = http.request(options, resolve);
    request.on('error', reject);
    request.end();
  });
}

/** A stream's bytes as text. */
async function text(stream: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}
