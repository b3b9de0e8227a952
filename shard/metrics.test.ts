import { describe, expect, it } from '@jest/globals';
import { Metrics } from '../runtime/metrics.ts';
import { shardMetrics } from './metrics.ts';

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

describe('the shard metrics', () => {
  it('read the objects owned at each scrape, for every shard that shares the Metrics', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const counts = new Map([
      ['configmaps', 3],
      ['deployments.apps', 0],
    ]);
    shardMetrics(metrics).countObjects('one', () => counts);
    shardMetrics(metrics).countObjects('two', () => [['secrets', 7] as const]);
    let values = await samples(metrics);
    expect(values.get('controller_rings_shard_objects{ring="one",resource="configmaps"}')).toBe(3);
    expect(values.get('controller_rings_shard_objects{ring="one",resource="deployments.apps"}')).toBe(0);
    expect(values.get('controller_rings_shard_objects{ring="two",resource="secrets"}')).toBe(7);
    counts.set('configmaps', 1);
    counts.delete('deployments.apps');
    values = await samples(metrics);
    expect(values.get('controller_rings_shard_objects{ring="one",resource="configmaps"}')).toBe(1);
    expect(values.has('controller_rings_shard_objects{ring="one",resource="deployments.apps"}')).toBe(false);
  });

  it('count drains acknowledged per resource, from 0 at the start', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    const acknowledged = shardMetrics(metrics).drainsAcknowledged('one', 'configmaps');
    const series = 'controller_rings_shard_drains_acknowledged_total{ring="one",resource="configmaps"}';
    expect((await samples(metrics)).get(series)).toBe(0);
    acknowledged();
    acknowledged();
    // A second shard of the ring in the process counts on the same series.
    shardMetrics(metrics).drainsAcknowledged('one', 'configmaps')();
    expect((await samples(metrics)).get(series)).toBe(3);
  });
});
