import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import { Counter } from 'prom-client';
import { Metrics } from './metrics.ts';
import { WorkQueue, type Handler, type HandlerResult } from './workqueue.ts';

const silent = pino({ level: 'silent' });

/** The samples of the text exposition, by series (name and labels as exposed). */
async function samples(metrics: Metrics): Promise<Map<string, number>> {
  const text = await metrics.registry.metrics();
  const lines = text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
  return new Map(
    lines.map((line) => {
      const space = line.lastIndexOf(' ');
      return [line.slice(0, space), Number(line.slice(space + 1))];
    }),
  );
}

/** Handler calls that stay in flight until the test ends them with a result or an error. */
function gatedHandler() {
  const running = new Map<string, (outcome: HandlerResult | Error | undefined) => void>();
  const handler: Handler = async (key) => {
    const { promise, resolve } = Promise.withResolvers<HandlerResult | Error | undefined>();
    running.set(key, resolve);
    const outcome = await promise;
    running.delete(key);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  };
  function finish(key: string, outcome?: HandlerResult | Error): void {
    const resolve = running.get(key);
    if (!resolve) throw new Error(`${key} is not in flight`);
    resolve(outcome);
  }
  return { handler, finish };
}

describe('Metrics with a WorkQueue', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
  });

  afterEach(() => {
    jest.useRealTimers();
  });

  async function settle(): Promise<void> {
    await jest.advanceTimersByTimeAsync(0);
  }

  const series = (metric: string, extra = '') => `${metric}{${extra}name="rings",controller="rings"}`;

  it('exposes the workqueue metrics under controller-runtime names, labelled with the controller', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const queueMetrics = metrics.workQueueMetrics('rings');
    const queue = new WorkQueue({ metrics: queueMetrics });
    queueMetrics.scrapeUnfinishedWork(queue);
    const gate = gatedHandler();

    let s = await samples(metrics);
    for (const metric of ['workqueue_depth', 'workqueue_adds_total', 'workqueue_retries_total']) {
      expect(s.get(series(metric))).toBe(0);
    }
    expect(s.get(series('workqueue_queue_duration_seconds_count'))).toBe(0);

    queue.add('a');
    queue.add('b');
    queue.add('a');
    s = await samples(metrics);
    expect(s.get(series('workqueue_adds_total'))).toBe(2);
    expect(s.get(series('workqueue_depth'))).toBe(2);

    await jest.advanceTimersByTimeAsync(2000);
    queue.run(gate.handler, { logger: silent });
    await settle();
    await jest.advanceTimersByTimeAsync(3000);
    s = await samples(metrics);
    expect(s.get(series('workqueue_depth'))).toBe(1);
    expect(s.get(series('workqueue_queue_duration_seconds_count'))).toBe(1);
    expect(s.get(series('workqueue_queue_duration_seconds_sum'))).toBe(2);
    expect(s.get(series('workqueue_queue_duration_seconds_bucket', 'le="1",'))).toBe(0);
    expect(s.get(series('workqueue_queue_duration_seconds_bucket', 'le="10",'))).toBe(1);
    // Read at scrape time: 'a' has been in its handler for 3 s.
    expect(s.get(series('workqueue_unfinished_work_seconds'))).toBe(3);
    expect(s.get(series('workqueue_longest_running_processor_seconds'))).toBe(3);

    gate.finish('a', { requeueAfter: 500 });
    await settle();
    s = await samples(metrics);
    expect(s.get(series('workqueue_work_duration_seconds_count'))).toBe(1);
    expect(s.get(series('workqueue_work_duration_seconds_sum'))).toBe(3);
    expect(s.get(series('workqueue_retries_total'))).toBe(1);
    expect(s.get(series('workqueue_queue_duration_seconds_sum'))).toBe(2 + 5);
    expect(s.get(series('workqueue_depth'))).toBe(0);
    expect(s.get(series('workqueue_unfinished_work_seconds'))).toBe(0);

    gate.finish('b', new Error('conflict'));
    await settle();
    s = await samples(metrics);
    expect(s.get(series('workqueue_retries_total'))).toBe(2);
    expect(s.get(series('workqueue_work_duration_seconds_count'))).toBe(2);
    expect(s.get(series('workqueue_unfinished_work_seconds'))).toBe(0);
    expect(s.get(series('workqueue_longest_running_processor_seconds'))).toBe(0);
    await queue.shutDown();
  });

  it('counts reconciles by result, times them and tracks active workers', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const reconcile = metrics.reconcileMetrics('rings', { concurrency: 2 });
    const queue = new WorkQueue({ metrics: metrics.workQueueMetrics('rings') });
    const gate = gatedHandler();
    const total = (result: string) =>
      `controller_runtime_reconcile_total{controller="rings",result="${result}"}`;

    let s = await samples(metrics);
    for (const result of ['success', 'error', 'requeue', 'requeue_after'])
      expect(s.get(total(result))).toBe(0);
    expect(s.get('controller_runtime_reconcile_errors_total{controller="rings"}')).toBe(0);
    expect(s.get('controller_runtime_max_concurrent_reconciles{controller="rings"}')).toBe(2);
    expect(s.get('controller_runtime_active_workers{controller="rings"}')).toBe(0);

    queue.run(reconcile.instrument(gate.handler), { concurrency: 2, logger: silent });
    for (const key of ['a', 'b', 'c']) queue.add(key);
    await settle();
    expect((await samples(metrics)).get('controller_runtime_active_workers{controller="rings"}')).toBe(2);

    await jest.advanceTimersByTimeAsync(1500);
    gate.finish('a');
    gate.finish('b', new Error('conflict'));
    // 'c' takes the free worker now, 'b' the other after its 5 ms backoff.
    await jest.advanceTimersByTimeAsync(500);
    gate.finish('c', { requeueAfter: 0 });
    // Requeued at once: 'c' runs again.
    await jest.advanceTimersByTimeAsync(5);
    gate.finish('b', { requeueAfter: 60_000 });
    gate.finish('c', { requeueAfter: 60_000 });
    await settle();

    s = await samples(metrics);
    expect(s.get(total('success'))).toBe(1);
    expect(s.get(total('error'))).toBe(1);
    expect(s.get(total('requeue'))).toBe(1);
    expect(s.get(total('requeue_after'))).toBe(2);
    expect(s.get('controller_runtime_reconcile_errors_total{controller="rings"}')).toBe(1);
    expect(s.get('controller_runtime_active_workers{controller="rings"}')).toBe(0);
    const time = (suffix: string, le = '') =>
      `controller_runtime_reconcile_time_seconds_${suffix}{${le}controller="rings"}`;
    expect(s.get(time('count'))).toBe(5);
    expect(s.get(time('bucket', 'le="0.005",'))).toBe(1);
    expect(s.get(time('bucket', 'le="0.5",'))).toBe(3);
    expect(s.get(time('bucket', 'le="1.25",'))).toBe(3);
    expect(s.get(time('bucket', 'le="1.5",'))).toBe(5);
    expect(s.get(time('sum'))).toBeCloseTo(1.5 + 1.5 + 0.5 + 0.5 + 0.005);
    await queue.shutDown();
  });

  it('passes the handler result through and rethrows its error, so the queue still sees them', async () => {
    const reconcile = new Metrics({ defaultMetrics: false }).reconcileMetrics('rings', { concurrency: 1 });
    const failure = new Error('conflict');
    const requeued = reconcile.instrument(() => Promise.resolve({ requeueAfter: 7 }));
    await expect(requeued('a')).resolves.toEqual({ requeueAfter: 7 });
    const failing = reconcile.instrument(() => Promise.reject<undefined>(failure));
    await expect(failing('a')).rejects.toBe(failure);
  });
});

describe('Metrics registry', () => {
  it("includes prom-client's process metrics unless left out", async () => {
    const withDefaults = await new Metrics().registry.metrics();
    expect(withDefaults).toMatch(/^process_cpu_seconds_total \d/m);
    expect(withDefaults).toMatch(/^nodejs_heap_size_used_bytes \d/m);
    const without = await new Metrics({ defaultMetrics: false }).registry.metrics();
    expect(without).not.toContain('process_');
    expect(without).not.toContain('nodejs_');
  });

  it('keeps instances apart and takes project metrics beside the generic ones', async () => {
    const one = new Metrics({ defaultMetrics: false });
    const two = new Metrics({ defaultMetrics: false });
    one.workQueueMetrics('rings').add();
    two.workQueueMetrics('rings');
    const moves = new Counter({
      name: 'controller_rings_moves_total',
      help: 'Objects moved to another shard',
      labelNames: ['ring'],
      registers: [one.registry],
    });
    moves.inc({ ring: 'demo' });

    const s = await samples(one);
    expect(s.get('workqueue_adds_total{name="rings",controller="rings"}')).toBe(1);
    expect(s.get('controller_rings_moves_total{ring="demo"}')).toBe(1);
    expect((await samples(two)).get('workqueue_adds_total{name="rings",controller="rings"}')).toBe(0);
    expect(await two.registry.metrics()).not.toContain('controller_rings_moves_total');
  });
});

describe('leader election metrics', () => {
  it('report client-go’s leader_election_master_status by Lease name, 0 from the start', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const leader = metrics.leaderElectionMetrics('controller-rings-sharder');
    const series = 'leader_election_master_status{name="controller-rings-sharder"}';
    expect((await samples(metrics)).get(series)).toBe(0);
    leader.leading(true);
    expect((await samples(metrics)).get(series)).toBe(1);
    leader.leading(false);
    expect((await samples(metrics)).get(series)).toBe(0);
  });
});
