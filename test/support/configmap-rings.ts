// Rings of ConfigMaps for the sharder's integration tests: their objects, and waiting until the API server
// calls the ring's webhook. Uses jest's expect: for tests only, not for the demo or the benchmarks.
import { expect } from '@jest/globals';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from './eventually.ts';
import { joinFakeShard, type FakeShard } from './fake-shard.ts';
import { createRing, getRing, type Labelled } from './rings.ts';

export function configMapsPath(namespace: string): string {
  return `/api/v1/namespaces/${namespace}/configmaps`;
}

export function createConfigMap(rest: RestClient, namespace: string, name: string): Promise<Labelled> {
  return rest.request({ method: 'POST', path: configMapsPath(namespace), body: { metadata: { name } } });
}

/** The API server picks webhook configurations up with a lag: wait until a dry-run create is labelled. */
export async function webhookEffective(rest: RestClient, ring: string, namespace: string): Promise<void> {
  await eventually(async () => {
    const object = await rest.request<Labelled>({
      method: 'POST',
      path: configMapsPath(namespace),
      query: { dryRun: 'All' },
      body: { metadata: { name: 'probe' } },
    });
    expect(object.metadata.labels?.[shardLabel(ring)]).toBeDefined();
  });
}

/**
 * A ring of all ConfigMaps with the FakeShards `a` and `b`, their Leases in `shardNamespace` (added to `shards`
 * as they join); resolves once both are available and the ring's webhook configuration exists.
 */
export async function createTwoShardConfigMapRing(
  rest: RestClient,
  shards: FakeShard[],
  options: { ring: string; shardNamespace: string; durationSeconds: number },
): Promise<void> {
  const { ring, shardNamespace, durationSeconds } = options;
  for (const name of ['a', 'b']) {
    await joinFakeShard(rest, shards, { ring, name, namespace: shardNamespace, durationSeconds });
  }
  await createRing(rest, ring, {
    resources: [{ resource: 'configmaps' }],
    shardLeaseNamespaces: [shardNamespace],
  });
  await eventually(async () => {
    expect((await getRing(rest, ring))?.status?.availableShards).toBe(2);
    await rest.request({
      path: `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-${ring}`,
    });
  });
}
