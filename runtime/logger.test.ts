import { describe, expect, it } from '@jest/globals';
import { createLogger, isLogLevel } from './logger.ts';

describe('logger', () => {
  it('accepts pino levels and silent, nothing else', () => {
    expect(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].every(isLogLevel)).toBe(true);
    expect(isLogLevel('verbose')).toBe(false);
  });

  it('logs at the level it is given, with child bindings', () => {
    const logger = createLogger({ level: 'warn', format: 'json', name: 'test' });
    expect(logger.level).toBe('warn');
    expect(logger.isLevelEnabled('info')).toBe(false);
    expect(logger.child({ ring: 'r' }).bindings()).toEqual({ name: 'test', ring: 'r' });
  });
});
