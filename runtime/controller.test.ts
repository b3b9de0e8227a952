import { describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { duplicateKeys } from '../test/support/log-lines.ts';
import { Controller } from './controller.ts';

describe('Controller', () => {
  it('binds its name once, for its queue and for its reconciler, beside the bindings it is given', async () => {
    const lines: string[] = [];
    const written = Promise.withResolvers<undefined>();
    const root = pino(
      { level: 'debug' },
      {
        write: (line: string) => {
          lines.push(line.trimEnd());
          if (lines.length === 2) written.resolve(undefined);
        },
      },
    );
    // As a shard passes it: bound to the ring and the shard.
    const logger = root.child({ ring: 'r', shard: 's' });
    const controller = new Controller({
      name: 'c',
      logger,
      reconciler: {
        reconcile(key) {
          controller.logger.child({ object: key }).info('reconciling');
          throw new Error('cannot');
        },
      },
    });
    controller.start();
    controller.enqueue('ns/a');
    await written.promise;
    await controller.stop();
    expect(lines.map(duplicateKeys)).toEqual([[], []]);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toMatchObject([
      { ring: 'r', shard: 's', controller: 'c', object: 'ns/a', msg: 'reconciling' },
      { ring: 'r', shard: 's', controller: 'c', key: 'ns/a', msg: 'handler failed, retrying with backoff' },
    ]);
  });
});
