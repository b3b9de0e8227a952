import { describe, expect, it } from '@jest/globals';
import { ApiException } from '@kubernetes/client-node';
import { pino } from 'pino';
import { duplicateKeys } from '../test/support/log-lines.ts';
import { ExpectedError } from './expected-error.ts';
import { createLogger, isLogLevel, serializeError, serializers } from './logger.ts';
import { ApiError } from './rest.ts';

/** A logger with createLogger's serializers that renders into `lines`. */
function capture(): { logger: pino.Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ serializers }, { write: (line: string) => lines.push(line.trimEnd()) });
  return { logger, lines };
}

const conflictStatus = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message:
    'Operation cannot be fulfilled on configmaps "config-1": the object has been modified; please apply your changes to the latest version and try again',
  reason: 'Conflict',
  details: { name: 'config-1', kind: 'configmaps' },
  code: 409,
};

function conflict(): ApiError {
  return new ApiError(409, conflictStatus.message, {
    reason: 'Conflict',
    body: conflictStatus,
    method: 'PATCH',
    path: '/api/v1/namespaces/apps/configmaps/config-1',
  });
}

describe('logger', () => {
  it('accepts pino levels and silent, nothing else', () => {
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].every(isLogLevel)).toBe(true);
    expect(isLogLevel('verbose')).toBe(false);
  });

  it('logs at the level it is given, with child bindings and the compact error serializer', () => {
    const logger = createLogger({ level: 'warn', format: 'json', name: 'test' });
    expect(logger.level).toBe('warn');
    expect(logger.isLevelEnabled('info')).toBe(false);
    expect(logger.child({ ring: 'r' }).bindings()).toEqual({ name: 'test', ring: 'r' });
    expect((logger as unknown as Record<symbol, unknown>)[pino.symbols.serializersSym]).toMatchObject({
      err: serializeError,
    });
  });

  it('repeats a field bound twice, which is why each part binds only its own', () => {
    const { logger, lines } = capture();
    logger.child({ controller: 'c' }).child({ controller: 'c', object: 'o' }).info('twice');
    logger.child({ controller: 'c' }).child({ object: 'o' }).info('once');
    expect(lines.map(duplicateKeys)).toEqual([['controller'], []]);
  });
});

describe('the err serializer', () => {
  it("writes an API server's answer as code, reason and a message naming the request, without body or stack", () => {
    const { logger, lines } = capture();
    logger.error({ err: conflict() }, 'failed');
    const { err } = JSON.parse(lines[0] ?? '') as { err: unknown };
    expect(err).toEqual({
      type: 'ApiError',
      code: 409,
      reason: 'Conflict',
      message: `PATCH /api/v1/namespaces/apps/configmaps/config-1: ${conflictStatus.message}`,
    });
  });

  it('writes an expected error without a stack, with its cause', () => {
    const error = new ExpectedError('the object changed before the drain was acknowledged', {
      cause: conflict(),
    });
    expect(serializeError(error)).toEqual({
      type: 'ExpectedError',
      message: 'the object changed before the drain was acknowledged',
      cause: expect.objectContaining({ type: 'ApiError', code: 409, reason: 'Conflict' }),
    });
  });

  it("writes client-node's ApiException as the Status's code, reason and message, not its dump of the answer", () => {
    const status = { ...conflictStatus, reason: 'AlreadyExists', message: 'secrets "s" already exists' };
    const headers = { 'content-type': 'application/json', 'audit-id': 'x'.repeat(36) };
    for (const body of [JSON.stringify(status), status]) {
      const error = new ApiException(409, 'Unknown API Status Code!', body, headers);
      expect(serializeError(error)).toEqual({
        type: 'ApiException',
        code: 409,
        reason: 'AlreadyExists',
        message: 'secrets "s" already exists',
      });
    }
    expect(serializeError(new ApiException(401, 'Unauthorized', undefined, headers))).toEqual({
      type: 'ApiException',
      code: 401,
      message: 'HTTP 401',
    });
  });

  it('keeps the first frames of the stack of any other error, and its code', () => {
    const error = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6443'), { code: 'ECONNREFUSED' });
    error.stack = [
      'Error: connect ECONNREFUSED 127.0.0.1:6443',
      ...Array.from({ length: 12 }, (_, i) => `    at frame${i} (file:///app/x.js:${i}:1)`),
    ].join('\n');
    expect(serializeError(error)).toEqual({
      type: 'Error',
      message: 'connect ECONNREFUSED 127.0.0.1:6443',
      code: 'ECONNREFUSED',
      stack: [0, 1, 2, 3, 4].map((i) => `at frame${i} (file:///app/x.js:${i}:1)`).join('\n'),
    });
  });

  it('writes a value that is no Error as it is', () => {
    expect(serializeError('socket hang up')).toBe('socket hang up');
    expect(serializeError(undefined)).toBeUndefined();
  });
});
