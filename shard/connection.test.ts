import { describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { createLogger } from '../runtime/logger.ts';
import { Metrics } from '../runtime/metrics.ts';
import { connectShard } from './connection.ts';

describe('connectShard', () => {
  it("refuses Lease labels under controller-rings.io/, the protocol's", () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'c', server: 'https://127.0.0.1:1' }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    const options = {
      ring: 'r',
      name: 's',
      namespace: 'shards',
      kubeConfig,
      logger: createLogger({ level: 'silent' }),
      metrics: new Metrics({ defaultMetrics: false }),
    };
    expect(() => connectShard({ ...options, leaseLabels: { 'controller-rings.io/ring': 'other' } })).toThrow(
      'leaseLabels: controller-rings.io/ring: labels under controller-rings.io/ are set by the shard library and the sharder; use a label of your own',
    );
  });
});
