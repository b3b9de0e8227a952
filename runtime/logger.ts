// One pino logger per process, passed down and narrowed with child({ controller, ring, shard, object }). Each
// part binds only the fields it adds (pino repeats a key bound twice): see docs/architecture.md, "Logs".
// JSON lines by default (for log pipelines); human-readable when writing to a terminal.
import type { ApiException } from '@kubernetes/client-node';
import { createRequire } from 'node:module';
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { ExpectedError } from './expected-error.ts';
import { ApiError } from './rest.ts';

export type { Logger } from 'pino';

export const logLevels: readonly LevelWithSilent[] = [
  'trace',
  'debug',
  'info',
  'warn',
  'error',
  'fatal',
  'silent',
];

export function isLogLevel(value: string): value is LevelWithSilent {
  return (logLevels as readonly string[]).includes(value);
}

export interface LoggerOptions {
  level: LevelWithSilent;
  /** 'json', 'pretty', or 'auto': pretty when stdout is a terminal. */
  format?: 'json' | 'pretty' | 'auto';
  name?: string;
}

export function createLogger({ level, format = 'auto', name }: LoggerOptions): Logger {
  const pretty = format === 'pretty' || (format === 'auto' && process.stdout.isTTY);
  const options = { level, serializers, ...(name === undefined ? {} : { name }) };
  return pretty ? pino(options, prettyStream()) : pino(options);
}

/** pino-pretty, loaded only for a terminal: with its dependencies it costs a process ~2-8 MiB of memory. */
function prettyStream(): ReturnType<typeof import('pino-pretty').PinoPretty> {
  const { PinoPretty } = createRequire(import.meta.url)('pino-pretty') as typeof import('pino-pretty');
  return PinoPretty({ sync: true, colorize: true });
}

/** What `err` becomes in a line. */
export interface SerializedError {
  type: string;
  message: string;
  /** An HTTP status code, or a Node.js error code such as ECONNRESET. */
  code?: number | string;
  /** The Kubernetes Status reason, e.g. Conflict. */
  reason?: string;
  /** The first frames, for errors that are neither expected nor an API server's answer. */
  stack?: string;
  cause?: unknown;
}

// Enough to find the code that threw; the rest of an async chain is the runtime's own frames.
const stackFrames = 5;
// Causes followed, e.g. an ExpectedError's ApiError.
const causeDepth = 3;

/**
 * pino's serializer for `err`: what a human needs to act on a failure, in a few hundred bytes. An ApiError
 * gives its code, reason and message (which names the request), never the Status body or a stack (where it was
 * thrown adds nothing to the request that failed); so does client-node's ApiException, whose own message holds
 * the whole answer with its headers. An ExpectedError has no stack either. Other errors keep the first frames
 * of theirs. Causes are serialized the same way; a value that is no Error is written as it is.
 */
export function serializeError(value: unknown): unknown {
  return serialize(value, 0);
}

/** The serializers of createLogger, for a logger made elsewhere: `logger.child({}, { serializers })`. */
export const serializers = { err: serializeError };

function serialize(value: unknown, depth: number): unknown {
  if (!(value instanceof Error)) return value;
  let serialized: SerializedError;
  if (value instanceof ApiError) {
    serialized = { type: value.name, message: value.message, code: value.code };
    if (value.reason !== undefined) serialized.reason = value.reason;
  } else if (isApiException(value)) {
    serialized = apiException(value);
  } else {
    serialized = { type: value.name, message: value.message };
    const { code } = value as { code?: unknown };
    if (typeof code === 'string' || typeof code === 'number') serialized.code = code;
    const stack = value instanceof ExpectedError ? '' : shortStack(value.stack);
    if (stack !== '') serialized.stack = stack;
  }
  if (value.cause !== undefined && depth < causeDepth) serialized.cause = serialize(value.cause, depth + 1);
  return serialized;
}

/**
 * client-node's ApiException, told by its shape rather than instanceof: the shard library must not load
 * client-node, an optional peer of the package (a cdk8s app has none).
 */
function isApiException(error: Error): error is ApiException<unknown> {
  const { code, headers } = error as { code?: unknown; headers?: unknown };
  return typeof code === 'number' && typeof headers === 'object' && headers !== null && 'body' in error;
}

/** client-node's error: its body is the Status (JSON text or parsed), its message a dump of the whole answer. */
function apiException(error: ApiException<unknown>): SerializedError {
  let status: unknown = error.body;
  if (typeof status === 'string') {
    try {
      status = JSON.parse(status);
    } catch {
      status = undefined;
    }
  }
  const { message, reason } = (typeof status === 'object' && status !== null ? status : {}) as {
    message?: unknown;
    reason?: unknown;
  };
  return {
    type: 'ApiException',
    message: typeof message === 'string' ? message : `HTTP ${error.code}`,
    code: error.code,
    ...(typeof reason === 'string' ? { reason } : {}),
  };
}

function shortStack(stack: string | undefined): string {
  const frames = (stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return frames
    .slice(0, stackFrames)
    .map((line) => line.trim())
    .join('\n');
}
