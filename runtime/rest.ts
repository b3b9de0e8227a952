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

/**
 * Hands each write to `refuse` at the last moment the client still decides: on a connection,
 * credentials applied, about to be written. An Error it returns aborts the request unsent, and the request
 * rejects with it.
 */
function refusingWrites(
  refuse: (method: string, path: string) => Error | undefined,
): Dispatcher.DispatchInterceptor {
  return (dispatch) => (options, handler) => {
    if (options.method === 'GET') return dispatch(options, handler);
    return dispatch(options, {
      onRequestStart(controller, context) {
        const refusal = refuse(options.method, options.path);
        if (refusal === undefined) handler.onRequestStart?.(controller, context);
        else controller.abort(refusal);
      },
      onRequestUpgrade: (...args) => handler.onRequestUpgrade?.(...args),
      onResponseStart: (...args) => handler.onResponseStart?.(...args),
      onResponseData: (...args) => handler.onResponseData?.(...args),
      onResponseEnd: (...args) => handler.onResponseEnd?.(...args),
      onResponseError: (...args) => handler.onResponseError?.(...args),
    });
  };
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
  #agent: Agent | undefined;
  #dispatcher: Dispatcher | undefined;

  constructor(kubeConfig: ClusterAccess, userAgent = 'controller-rings', options: RestClientOptions = {}) {
    this.#kubeConfig = kubeConfig;
    this.#userAgent = userAgent;
    this.#refuseWrite = options.refuseWrite;
  }

  /** Sends one request and returns the parsed JSON answer; a non-2xx answer throws an ApiError. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const response = await this.#send(spec, bodyTimeoutMs);
    const text = await this.#transport(spec, () => response.body.text());
    const code = response.statusCode;
    if (code < 200 || code >= 300) throw apiError(spec, code, text);
    return (text === '' ? undefined : JSON.parse(text)) as T;
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
    const response = await this.#send(spec, 0);
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
    this.#dispatcher = undefined;
  }

  /** Runs `step`; a transport failure (not an abort) becomes an ApiError with code 0. */
  async #transport<R>(spec: RequestSpec, step: () => Promise<R>): Promise<R> {
    try {
      return await step();
    } catch (error) {
      // Aborts, and the refusals of options.refuseWrite (expected errors), are the caller's own.
      if (spec.signal?.aborted || isExpected(error)) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new ApiError(0, message, { method: spec.method ?? 'GET', path: spec.path });
    }
  }

  async #send(spec: RequestSpec, bodyTimeout: number): Promise<Dispatcher.ResponseData> {
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    // Credentials (e.g. a token from an exec plugin or a refreshed file) are applied anew for every request.
    const options: RequestOptions = {};
    await this.#kubeConfig.applyToHTTPSOptions(options);
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const headers: Record<string, string> = {
      ...(options.headers as Record<string, string> | undefined),
      accept: spec.accept ?? 'application/json',
      'user-agent': this.#userAgent,
      ...(body === undefined ? {} : { 'content-type': spec.contentType ?? 'application/json' }),
      ...(options.auth === undefined || options.auth === null
        ? {}
        : { authorization: `Basic ${Buffer.from(options.auth).toString('base64')}` }),
    };
    const dispatcher = (this.#dispatcher ??= this.#connect(options));
    return this.#transport(spec, () =>
      dispatcher.request({
        origin: cluster.server,
        path: pathWithQuery(spec.path, spec.query),
        method: spec.method ?? 'GET',
        headers,
        body,
        signal: spec.signal,
        bodyTimeout,
      }),
    );
  }

  /** The client's connections, made with the TLS material of the first request's options. */
  #connect(options: RequestOptions): Dispatcher {
    // The agent client-node's KubeConfig sets is not used: one undici Agent per client keeps connections alive (the sync
    // patches thousands of objects) and sets every request's length itself.
    this.#agent = new Agent({
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
    const refuse = this.#refuseWrite;
    return refuse === undefined ? this.#agent : this.#agent.compose(refusingWrites(refuse));
  }
}
