// A small REST client for the Kubernetes API that speaks raw JSON. client-node's typed serializer drops
// fields outside its camelCase models and turns times into Dates; raw JSON keeps objects exactly as the API
// server sends them, typed with kubernetes-models' interfaces. KubeConfig still provides auth and TLS.
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { createInterface } from 'node:readline';
import type { KubeConfig } from '@kubernetes/client-node';

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

/** A Status the API server answered with (or a transport failure, with code 0). */
export class ApiError extends Error {
  readonly code: number;
  readonly reason: string | undefined;
  readonly body: unknown;

  constructor(code: number, message: string, reason?: string, body?: unknown) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.reason = reason;
    this.body = body;
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

function toUrl(server: string, path: string, query: Query = {}): URL {
  const url = new URL(path, server);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(name, String(value));
  }
  return url;
}

async function readBody(response: IncomingMessage): Promise<string> {
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) text += chunk as string;
  return text;
}

function apiError(code: number, text: string): ApiError {
  try {
    const status = JSON.parse(text) as { message?: string; reason?: string };
    return new ApiError(code, status.message ?? text, status.reason, status);
  } catch {
    return new ApiError(code, text || `HTTP ${code}`);
  }
}

export class RestClient {
  readonly #kubeConfig: KubeConfig;
  readonly #userAgent: string;
  #agent: Agent | undefined;

  constructor(kubeConfig: KubeConfig, userAgent = 'controller-rings') {
    this.#kubeConfig = kubeConfig;
    this.#userAgent = userAgent;
  }

  /** Sends one request and returns the parsed JSON answer; a non-2xx answer throws an ApiError. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const response = await this.#send(spec);
    const text = await readBody(response);
    const code = response.statusCode ?? 0;
    if (code < 200 || code >= 300) throw apiError(code, text);
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
    const response = await this.#send({
      path,
      query: { ...query, watch: true },
      signal,
      accept: options.accept,
    });
    const code = response.statusCode ?? 0;
    if (code !== 200) throw apiError(code, await readBody(response));
    try {
      for await (const line of createInterface({ input: response, crlfDelay: Infinity })) {
        if (line.trim() !== '') onEvent(JSON.parse(line) as WatchEvent<T>);
      }
    } catch (error) {
      if (!signal.aborted) throw error;
    }
  }

  /** Closes idle kept-alive connections. */
  close(): void {
    this.#agent?.destroy();
    this.#agent = undefined;
  }

  async #send(spec: RequestSpec): Promise<IncomingMessage> {
    const cluster = this.#kubeConfig.getCurrentCluster();
    if (cluster === null) throw new Error('the kubeconfig has no current cluster');
    const url = toUrl(cluster.server, spec.path, spec.query);
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const options: RequestOptions = {
      method: spec.method ?? 'GET',
      headers: {
        accept: spec.accept ?? 'application/json',
        'user-agent': this.#userAgent,
        ...(body === undefined ? {} : { 'content-type': spec.contentType ?? 'application/json' }),
      },
      signal: spec.signal,
    };
    await this.#kubeConfig.applyToHTTPSOptions(options);
    // KubeConfig makes a new agent for every request, i.e. a TLS handshake per request; the sync patches
    // thousands of objects, so connections are kept alive. Credentials in headers are still refreshed above.
    this.#agent ??= new Agent({
      keepAlive: true,
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      servername: options.servername,
      ...(options.rejectUnauthorized === undefined ? {} : { rejectUnauthorized: options.rejectUnauthorized }),
    });
    options.agent = this.#agent;
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const request = send(url, options, resolve);
      request.on('error', (error) => {
        reject(
          spec.signal?.aborted
            ? error
            : new ApiError(0, `${options.method ?? 'GET'} ${url.pathname}: ${error.message}`),
        );
      });
      request.end(body);
    });
  }
}
