// A small REST client for the Kubernetes API that speaks raw JSON. client-node's typed serializer drops
// fields outside its camelCase models and turns times into Dates; raw JSON keeps objects exactly as the API
// server sends them, typed with kubernetes-models' interfaces. A ClusterAccess (client-node's KubeConfig, or
// runtime/kubeconfig.ts's lighter one) provides auth and TLS; undici (which client-node uses too) does HTTP:
// connection pooling, message framing (lengths), timeouts and TLS.
import type { RequestOptions } from 'node:https';
import { createInterface } from 'node:readline';
import { createSecureContext } from 'node:tls';
import type { Dispatcher } from 'undici';
import { Agent } from './undici.ts';
import { isExpected } from './expected-error.ts';

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

// A connection attempt (TCP and TLS) that takes longer has failed: undici's default.
const connectTimeoutMs = 10_000;
// The API server answers an ordinary request within its --request-timeout (60 s by default), with a Status
// if it has to give up; waiting a little longer lets that Status arrive instead of a bare client timeout.
const headersTimeoutMs = 70_000;
// The longest pause between two chunks of an ordinary answer. Watches have none: they are quiet for as long
// as nothing changes, and the server (timeoutSeconds) or the informer's own timer ends them.
const bodyTimeoutMs = 70_000;
// Idle connections are kept this long (undici's default is 4 s, less than the leader election's renewal
// interval): below the API server's idle timeout of 90 s, so that the client, not the server, closes them.
const keepAliveTimeoutMs = 60_000;

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
 * One request's handler on undici's dispatch API: it collects the answer's body as buffers and settles a
 * promise with them, without the stream, async resource and abort-signal bookkeeping of undici's request()
 * (a sync's thousands of patches paid for those on every one). One object per request, its callbacks methods:
 * it is also the abort listener of the caller's signal (handleEvent).
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #spec: RequestSpec;
  readonly #refuse: RestClientOptions['refuseWrite'];
  readonly #done: (exchange: Exchange) => void;
  #resolve!: (answer: Answer) => void;
  #reject!: (error: unknown) => void;
  #controller: Dispatcher.DispatchController | undefined;
  /** Why the request was aborted before it started, to abort it with when it does. */
  #abortReason: Error | undefined;
  #settled = false;
  #statusCode = 0;
  /** Whether the answer's body is collected (not a discarded success). */
  #keep = true;
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

  /** Ends the request with `reason` (rejecting with it): at once, also when it still waits for a connection. */
  abort(reason: Error): void {
    this.#abortReason ??= reason;
    this.#controller?.abort(reason);
    this.#settle(undefined, reason);
  }

  /** The caller's signal aborted. */
  handleEvent(): void {
    this.abort((this.#spec.signal as AbortSignal).reason as Error);
  }

  // The fence's point (runtime/fence.ts): on a connection, credentials applied, about to be written in this
  // same call (HTTP/1.1). An Error `refuse` returns aborts the request unsent, and the request rejects with it.
  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#abortReason !== undefined) {
      controller.abort(this.#abortReason);
      return;
    }
    const { method } = this.#spec;
    const refusal = isWrite(method) ? this.#refuse?.(method, this.#spec.path) : undefined;
    if (refusal !== undefined) controller.abort(refusal);
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number): void {
    // 1xx answers come before the real one.
    if (statusCode >= 200) this.#statusCode = statusCode;
    this.#keep = this.#spec.discardAnswer !== true || statusCode < 200 || statusCode >= 300;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#keep) this.#chunks.push(chunk);
  }

  onResponseEnd(): void {
    const chunks = this.#chunks;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
    this.#settle({ statusCode: this.#statusCode, body }, undefined);
  }

  onResponseError(_controller: Dispatcher.DispatchController, error: Error): void {
    this.#settle(undefined, error);
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
    else {
      const message = error instanceof Error ? error.message : String(error);
      this.#reject(new ApiError(0, message, { method: this.#spec.method ?? 'GET', path: this.#spec.path }));
    }
  }
}

/** Writes are what the fence refuses and abortWrites aborts: every method but GET. */
function isWrite(method: RequestSpec['method']): method is Exclude<RequestSpec['method'], 'GET' | undefined> {
  return method !== undefined && method !== 'GET';
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
    const { agent, options } = await this.#prepare(spec);
    if (spec.signal?.aborted === true) throw spec.signal.reason;
    const write = isWrite(spec.method) && this.#abortWrites !== undefined;
    if (write && this.#abortWrites.aborted) throw this.#abortWrites.reason;
    const exchange = new Exchange(spec, this.#refuseWrite, this.#forget);
    if (write) this.#writes.add(exchange);
    agent.dispatch({ ...options, bodyTimeout: bodyTimeoutMs }, exchange);
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
    const { agent, options: request } = await this.#prepare(spec);
    // A stream read as it comes; watches are GETs, which nothing refuses.
    const response = await this.#transport(spec, () => agent.request({ ...request, signal, bodyTimeout: 0 }));
    if (response.statusCode !== 200) {
      throw apiError(spec, response.statusCode, await this.#transport(spec, () => response.body.text()));
    }
    try {
      // Events are newline-delimited JSON.
      for await (const line of createInterface({ input: response.body, crlfDelay: Infinity })) {
        if (line.trim() !== '') onEvent(JSON.parse(line) as WatchEvent<T>);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    } finally {
      // A handler that threw leaves the stream open: end it, which frees the connection.
      response.body.destroy();
    }
  }

  /** Closes the connections, ending requests and watches still in flight. */
  close(): void {
    // destroy() only rejects when the agent was destroyed before, which is what was asked.
    this.#agent?.destroy().catch(() => undefined);
    this.#agent = undefined;
  }

  /** Runs `step`; a transport failure (not an abort) becomes an ApiError with code 0. */
  async #transport<R>(spec: RequestSpec, step: () => Promise<R>): Promise<R> {
    try {
      return await step();
    } catch (error) {
      if (spec.signal?.aborted) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, message, { method: spec.method ?? 'GET', path: spec.path });
    }
  }

  /** The request's dispatch options, credentials applied, and the agent to send it with. */
  async #prepare(spec: RequestSpec): Promise<{ agent: Agent; options: Dispatcher.DispatchOptions }> {
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    // Credentials (e.g. a token from an exec plugin or a refreshed file) are applied anew for every request.
    const options: RequestOptions = {};
    await this.#kubeConfig.applyToHTTPSOptions(options);
    const headers: Record<string, string> = { ...(options.headers as Record<string, string> | undefined) };
    headers.accept = spec.accept ?? 'application/json';
    headers['user-agent'] = this.#userAgent;
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    if (body !== undefined) headers['content-type'] = spec.contentType ?? 'application/json';
    if (options.auth !== undefined && options.auth !== null) {
      headers.authorization = `Basic ${Buffer.from(options.auth).toString('base64')}`;
    }
    const agent = (this.#agent ??= this.#connect(options));
    const path = spec.query === undefined ? spec.path : pathWithQuery(spec.path, spec.query);
    return {
      agent,
      options: { origin: cluster.server, path, method: spec.method ?? 'GET', headers, body },
    };
  }

  /** The client's connections, made with the TLS material of the first request's options. */
  #connect(options: RequestOptions): Agent {
    // The agent client-node's KubeConfig sets is not used: one undici Agent per client keeps connections alive (the sync
    // patches thousands of objects) and sets every request's length itself.
    return new Agent({
      connect: {
        timeout: connectTimeoutMs,
        // One TLS context for all connections: made from the CA, certificate and key per connection, it cost
        // a millisecond of CPU for each of the dozens of connections a sync opens at once.
        secureContext: createSecureContext({ ca: options.ca, cert: options.cert, key: options.key }),
        servername: options.servername,
        ...(options.rejectUnauthorized === undefined
          ? {}
          : { rejectUnauthorized: options.rejectUnauthorized }),
      },
      headersTimeout: headersTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      // HTTP/1.1, one request per connection at a time. With HTTP/2 (undici 8.13's default), destroying the
      // agent while aborted streams were still closing emitted an 'error' on a stream nobody listened to,
      // which ended a shard on SIGTERM with code 1. HTTP/1.1 also writes a request to its socket in the same
      // call that checked the fence (runtime/fence.ts), where HTTP/2 sends it on a later turn.
      allowH2: false,
    });
  }
}
