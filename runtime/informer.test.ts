// The informer's loop against a scripted API: which requests it sends, and what it does with each answer.
// Its behaviour against the real API server is in test/integration/runtime-informer*.test.ts.
import { afterEach, describe, expect, it } from '@jest/globals';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { pino } from 'pino';
import { eventually } from '../test/support/eventually.ts';
import { Informer, type InformerEvent, type InformerOptions, objectKey } from './informer.ts';
import { createLogger } from './logger.ts';
import {
  ApiError,
  metadataAccept,
  metadataListAccept,
  type Query,
  type RequestSpec,
  type RestClient,
  type WatchEvent,
} from './rest.ts';

const path = '/api/v1/namespaces/test/configmaps';

function configMap(name: string, resourceVersion: string): IConfigMap {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace: 'test', name, resourceVersion } };
}

/** One watch request the informer made; the test sends its events and ends it. */
class FakeWatch {
  readonly query: Query;
  readonly accept: string | undefined;
  readonly signal: AbortSignal;
  readonly #onEvent: (event: WatchEvent<unknown>) => void;
  readonly #done = Promise.withResolvers<undefined>();

  constructor(
    query: Query,
    onEvent: (event: WatchEvent<unknown>) => void,
    signal: AbortSignal,
    accept: string | undefined,
  ) {
    this.query = query;
    this.accept = accept;
    this.signal = signal;
    this.#onEvent = onEvent;
    // Like RestClient.watch: aborting ends the watch without an error.
    signal.addEventListener('abort', () => {
      this.#done.resolve(undefined);
    });
  }

  get done(): Promise<undefined> {
    return this.#done.promise;
  }

  send(type: WatchEvent<unknown>['type'], object: unknown): void {
    if (!this.signal.aborted) this.#onEvent({ type, object });
  }

  end(): void {
    this.#done.resolve(undefined);
  }

  fail(error: Error): void {
    this.#done.reject(error);
  }
}

/** Stands in for RestClient: list requests are answered by `answerList`, watches are recorded. */
class FakeApi {
  readonly lists: RequestSpec[] = [];
  readonly watches: FakeWatch[] = [];
  answerList: (spec: RequestSpec) => unknown = () => ({ metadata: { resourceVersion: '1' }, items: [] });

  async request(spec: RequestSpec): Promise<unknown> {
    this.lists.push(spec);
    const aborted = new Promise<never>((_, reject) => {
      spec.signal?.addEventListener('abort', () => {
        reject(new Error('aborted'));
      });
    });
    aborted.catch(() => undefined);
    return Promise.race([this.answerList(spec), aborted]);
  }

  watch(
    _path: string,
    query: Query,
    onEvent: (event: WatchEvent<unknown>) => void,
    signal: AbortSignal,
    options: { accept?: string } = {},
  ): Promise<void> {
    const watch = new FakeWatch(query, onEvent, signal, options.accept);
    this.watches.push(watch);
    return watch.done;
  }

  /** The n-th watch (from 1), once the informer has started it. */
  async watchNumber(n: number): Promise<FakeWatch> {
    return eventually(() => {
      const watch = this.watches[n - 1];
      if (watch === undefined) throw new Error(`watch ${n} has not started (${this.watches.length} so far)`);
      return watch;
    });
  }
}

/** A list answer as the API server writes it: its items have no apiVersion and kind. */
function listOf(resourceVersion: string, items: IConfigMap[], continueToken?: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMapList',
    metadata: { resourceVersion, continue: continueToken },
    items: items.map(({ metadata }) => ({ metadata })),
  };
}

const running: Informer<IConfigMap>[] = [];

function startInformer(
  api: FakeApi,
  options: Partial<InformerOptions> = {},
): { informer: Informer<IConfigMap>; events: InformerEvent<IConfigMap>[] } {
  const informer = new Informer<IConfigMap>(api as unknown as RestClient, {
    path,
    logger: createLogger({ level: 'silent' }),
    ...options,
  });
  const events: InformerEvent<IConfigMap>[] = [];
  informer.onEvent((event) => events.push(event));
  informer.start();
  running.push(informer);
  return { informer, events };
}

function summary(events: InformerEvent<IConfigMap>[]): string[] {
  return events.map(({ type, object, previous }) => {
    const name = object.metadata?.name ?? '';
    const version = object.metadata?.resourceVersion ?? '';
    return previous === undefined
      ? `${type} ${name}@${version}`
      : `${type} ${name}@${previous.metadata?.resourceVersion ?? ''}->${version}`;
  });
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((informer) => informer.stop()));
});

describe('objectKey', () => {
  it('is namespace/name, or the name alone for cluster-scoped objects', () => {
    expect(objectKey({ metadata: { namespace: 'ns', name: 'a' } })).toBe('ns/a');
    expect(objectKey({ metadata: { name: 'node-1' } })).toBe('node-1');
  });
});

describe('Informer', () => {
  it('lists page by page, then watches from the list resourceVersion', async () => {
    const api = new FakeApi();
    api.answerList = (spec) =>
      spec.query?.continue === undefined
        ? listOf('10', [configMap('a', '5')], 'c1')
        : listOf('10', [configMap('b', '7')]);
    const { informer, events } = startInformer(api, {
      pageSize: 1,
      labelSelector: 'app=x',
      fieldSelector: 'metadata.name!=z',
      watchTimeoutSeconds: 60,
    });
    await informer.waitForSync();

    expect(informer.hasSynced).toBe(true);
    expect(api.lists.map((spec) => spec.query)).toEqual([
      { labelSelector: 'app=x', fieldSelector: 'metadata.name!=z', limit: 1, continue: undefined },
      { labelSelector: 'app=x', fieldSelector: 'metadata.name!=z', limit: 1, continue: 'c1' },
    ]);
    expect(summary(events)).toEqual(['added a@5', 'added b@7']);
    // List items lack apiVersion and kind; they get the list's, as watch events have them.
    expect(informer.get('test/b')).toEqual(configMap('b', '7'));
    expect(informer.list().map(objectKey).sort()).toEqual(['test/a', 'test/b']);

    const watch = await api.watchNumber(1);
    expect(watch.query).toMatchObject({
      labelSelector: 'app=x',
      fieldSelector: 'metadata.name!=z',
      resourceVersion: '10',
      allowWatchBookmarks: true,
    });
    expect(watch.query.timeoutSeconds).toBeGreaterThanOrEqual(60);
    expect(watch.query.timeoutSeconds).toBeLessThan(120);
  });

  it('applies watch events to the store before handlers see them', async () => {
    const api = new FakeApi();
    api.answerList = () => listOf('10', [configMap('a', '5')]);
    const { informer, events } = startInformer(api);
    const seen: (IConfigMap | undefined)[] = [];
    informer.onEvent((event) => seen.push(informer.get(objectKey(event.object))));
    const watch = await api.watchNumber(1);

    watch.send('ADDED', configMap('b', '11'));
    watch.send('MODIFIED', configMap('a', '12'));
    watch.send('DELETED', configMap('b', '13'));

    expect(summary(events)).toEqual(['added a@5', 'added b@11', 'updated a@5->12', 'deleted b@13']);
    expect(seen.map((object) => object?.metadata?.resourceVersion)).toEqual(['5', '11', '12', undefined]);
    expect(informer.list().map(objectKey)).toEqual(['test/a']);
  });

  it('re-watches from the last resourceVersion seen, bookmarks included, when a watch ends', async () => {
    const api = new FakeApi();
    const { events } = startInformer(api);
    const first = await api.watchNumber(1);
    first.send('ADDED', configMap('a', '20'));
    first.send('BOOKMARK', { metadata: { resourceVersion: '25' } });
    first.end();

    const second = await api.watchNumber(2);
    expect(second.query.resourceVersion).toBe('25');
    second.send('MODIFIED', configMap('a', '30'));
    second.fail(new ApiError(0, 'GET /api/v1/namespaces/test/configmaps: socket hang up'));

    const third = await api.watchNumber(3);
    expect(third.query.resourceVersion).toBe('30');
    expect(api.lists).toHaveLength(1);
    expect(summary(events)).toEqual(['added a@20', 'updated a@20->30']);
  });

  it.each([
    [
      'an ERROR event with code 410',
      (watch: FakeWatch) => {
        watch.send('ERROR', {
          kind: 'Status',
          code: 410,
          reason: 'Expired',
          message: 'too old resource version',
        });
      },
    ],
    [
      'HTTP 410',
      (watch: FakeWatch) => {
        watch.fail(new ApiError(410, 'too old resource version', { reason: 'Expired' }));
      },
    ],
  ])('relists after %s and emits only what changed', async (_, expire) => {
    const api = new FakeApi();
    api.answerList = () =>
      listOf('10', [configMap('unchanged', '1'), configMap('changed', '2'), configMap('vanished', '3')]);
    const { events } = startInformer(api);
    const watch = await api.watchNumber(1);
    events.length = 0;

    api.answerList = () =>
      listOf('40', [configMap('unchanged', '1'), configMap('changed', '31'), configMap('new', '32')]);
    expire(watch);

    const next = await api.watchNumber(2);
    expect(watch.signal.aborted).toBe(true);
    expect(next.query.resourceVersion).toBe('40');
    expect(api.lists).toHaveLength(2);
    expect(summary(events)).toEqual(['deleted vanished@3', 'updated changed@2->31', 'added new@32']);
  });

  it('backs off when watches keep expiring right after a list', async () => {
    const api = new FakeApi();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    startInformer(api, { logger });
    for (let n = 1; n <= 3; n++) {
      const watch = await api.watchNumber(n);
      watch.send('ERROR', {
        kind: 'Status',
        code: 410,
        reason: 'Expired',
        message: 'too old resource version',
      });
    }
    await eventually(() => {
      expect(lines).toHaveLength(3);
    });
    expect(lines.map((line) => JSON.parse(line) as unknown)).toMatchObject([
      { msg: 'watch failed', retryInMs: 200 },
      { msg: 'watch failed', retryInMs: 400 },
      { msg: 'watch failed', retryInMs: 800 },
    ]);
  });

  it('relists at once when a re-watch expires, e.g. after an API server restart', async () => {
    const api = new FakeApi();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    startInformer(api, { logger });
    (await api.watchNumber(1)).end();
    (await api.watchNumber(2)).fail(new ApiError(0, 'connect ECONNREFUSED 127.0.0.1:6443'));
    const expired = await api.watchNumber(3);
    expired.send('ERROR', {
      kind: 'Status',
      code: 410,
      reason: 'Expired',
      message: 'too old resource version',
    });

    await api.watchNumber(4);
    expect(api.lists).toHaveLength(2);
    expect(lines.map((line) => (JSON.parse(line) as { msg: string }).msg)).toEqual(['watch failed']);
  });

  it('keeps retrying a failing list', async () => {
    const api = new FakeApi();
    let failures = 2;
    api.answerList = () => {
      if (failures-- > 0) throw new ApiError(403, 'configmaps is forbidden', { reason: 'Forbidden' });
      return listOf('10', [configMap('a', '5')]);
    };
    const { informer } = startInformer(api);
    await informer.waitForSync();
    expect(api.lists).toHaveLength(3);
    expect(informer.get('test/a')).toBeDefined();
  });

  it('re-watches after an ERROR event other than 410 without relisting', async () => {
    const api = new FakeApi();
    startInformer(api);
    const watch = await api.watchNumber(1);
    watch.send('BOOKMARK', { metadata: { resourceVersion: '15' } });
    watch.send('ERROR', { kind: 'Status', code: 500, message: 'internal error' });
    const next = await api.watchNumber(2);
    expect(next.query.resourceVersion).toBe('15');
    expect(api.lists).toHaveLength(1);
  });

  it('logs a handler that throws and carries on', async () => {
    const api = new FakeApi();
    const lines: string[] = [];
    const logger = pino({ level: 'error' }, { write: (line: string) => lines.push(line) });
    const { informer, events } = startInformer(api, { logger });
    informer.onEvent(() => {
      throw new Error('handler bug');
    });
    const after: string[] = [];
    informer.onEvent((event) => after.push(objectKey(event.object)));
    const watch = await api.watchNumber(1);
    watch.send('ADDED', configMap('a', '11'));
    watch.send('ADDED', configMap('b', '12'));

    expect(summary(events)).toEqual(['added a@11', 'added b@12']);
    expect(after).toEqual(['test/a', 'test/b']);
    expect(lines.map((line) => JSON.parse(line) as unknown)).toMatchObject([
      { msg: 'event handler failed', object: 'test/a', err: { message: 'handler bug' } },
      { msg: 'event handler failed', object: 'test/b', err: { message: 'handler bug' } },
    ]);
    const next = await api.watchNumber(1);
    expect(next.signal.aborted).toBe(false);
  });

  it('asks for metadata only when told to', async () => {
    const api = new FakeApi();
    startInformer(api, { metadataOnly: true });
    const watch = await api.watchNumber(1);
    expect(api.lists[0]?.accept).toBe(metadataListAccept);
    expect(watch.accept).toBe(metadataAccept);
  });

  it('stops while retrying, and fails waiting for a sync that never came', async () => {
    const api = new FakeApi();
    api.answerList = () => {
      throw new ApiError(0, 'connect ECONNREFUSED 127.0.0.1:6443');
    };
    const { informer } = startInformer(api);
    const synced = informer.waitForSync();
    await eventually(() => {
      expect(api.lists.length).toBeGreaterThanOrEqual(2);
    });
    await informer.stop();
    await expect(synced).rejects.toThrow('stopped before it synced');
    const requests = api.lists.length;
    await informer.stop();
    expect(api.lists).toHaveLength(requests);
  });

  it('stops a running watch', async () => {
    const api = new FakeApi();
    const { informer } = startInformer(api);
    const watch = await api.watchNumber(1);
    await informer.stop();
    expect(watch.signal.aborted).toBe(true);
    expect(api.watches).toHaveLength(1);
  });

  it('gives up waiting for the sync when the caller aborts', async () => {
    const api = new FakeApi();
    api.answerList = () => new Promise(() => undefined);
    const { informer } = startInformer(api);
    const controller = new AbortController();
    const synced = informer.waitForSync(controller.signal);
    controller.abort(new Error('shutting down'));
    await expect(synced).rejects.toThrow('shutting down');
  });
});
