// One pino logger per process, passed down and narrowed with child({ controller, ring, shard, object }).
// JSON lines by default (for log pipelines); human-readable when writing to a terminal.
import { pino, type Logger, type LevelWithSilent } from 'pino';
import { PinoPretty } from 'pino-pretty';

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
  const options = { level, ...(name === undefined ? {} : { name }) };
  return pretty ? pino(options, PinoPretty({ sync: true, colorize: true })) : pino(options);
}
