// The informer through API server restarts, on a control plane of its own (restarting the shared one would
// disturb the other test files). A restarted API server has a new watch cache that starts after the informer's
// last resourceVersion, so re-watching gets 410 Gone: both tests go through the relist that follows.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { pino } from 'pino';
import { Informer, type InformerEvent } from '../../runtime/informer.ts';
import { patchTypes, RestClient } from '../../runtime/rest.ts';
import { type ControlPlane, startControlPlane } from '../control-plane/control-plane.ts';
import { eventually } from '../support/eventually.ts';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.ts';

const namespace = 'runtime-informer-restart';
const configMaps = `/api/v1/namespaces/${namespace}/configmaps`;

let controlPlane: ControlPlane;
let kubeConfig: KubeConfig;
let rest: RestClient;
const cleanups: (() => Promise<void> | void)[] = [];

beforeAll(async () => {
  controlPlane = await startControlPlane();
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(controlPlane.kubeconfigPath);
  rest = new RestClient(kubeConfig);
  await rest.request({ method: 'POST', path: '/api/v1/namespaces', body: { metadata: { name: namespace } } });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  rest.close();
  await controlPlane.stop();
});

/** An informer on the test namespace's configmaps labelled app=`app`, and its log lines' messages. */
function startInformer(
  client: RestClient,
  app: string,
): {
  informer: Informer<IConfigMap>;
  seen: () => string[];
  logged: string[];
} {
  const logged: string[] = [];
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => logged.push((JSON.parse(line) as { msg: string }).msg) },
  );
  const informer = new Informer<IConfigMap>(client, {
    path: configMaps,
    labelSelector: `app=${app}`,
    logger,
  });
  const events: InformerEvent<IConfigMap>[] = [];
  informer.onEvent((event) => events.push(event));
  informer.start();
  cleanups.push(() => informer.stop());
  const seen = (): string[] => events.map(({ type, object }) => `${type} ${object.metadata?.name ?? ''}`);
  return { informer, seen, logged };
}

async function create(app: string, name: string): Promise<void> {
  await rest.request({ method: 'POST', path: configMaps, body: { metadata: { name, labels: { app } } } });
}

async function update(name: string): Promise<void> {
  const patch = { data: { updated: 'yes' } };
  await rest.request({
    method: 'PATCH',
    path: `${configMaps}/${name}`,
    body: patch,
    contentType: patchTypes.merge,
  });
}

async function remove(name: string): Promise<void> {
  await rest.request({ method: 'DELETE', path: `${configMaps}/${name}` });
}

describe('Informer across API server restarts', () => {
  it('reconnects after the API server restarts, without repeating events for unchanged objects', async () => {
    const client = new RestClient(kubeConfig);
    cleanups.push(() => {
      client.close();
    });
    await create('reconnect', 'reconnect-before');
    const { informer, seen, logged } = startInformer(client, 'reconnect');
    await informer.waitForSync();

    await controlPlane.restartApiServer();
    await create('reconnect', 'reconnect-after');
    await update('reconnect-before');

    await eventually(() => {
      expect(seen()).toEqual(['added reconnect-before', 'added reconnect-after', 'updated reconnect-before']);
    });
    expect(logged).toContain('watch expired, relisting');
  });

  it('relists after 410 Gone and reports what changed while it was cut off', async () => {
    const proxy: TcpProxy = await startTcpProxy(kubeConfig);
    const client = new RestClient(proxy.kubeConfig);
    cleanups.push(
      () => proxy.close(),
      () => {
        client.close();
      },
    );
    await Promise.all(['gone-vanishes', 'gone-changes', 'gone-stays'].map((name) => create('gone', name)));
    const { informer, seen, logged } = startInformer(client, 'gone');
    await informer.waitForSync();
    const before = seen().length;
    expect(before).toBe(3);

    proxy.cut();
    await remove('gone-vanishes');
    await update('gone-changes');
    await create('gone', 'gone-new');
    // The new API server's watch cache starts after the informer's resourceVersion.
    await controlPlane.restartApiServer();
    proxy.resume();

    await eventually(() => {
      expect(seen().slice(before).sort()).toEqual([
        'added gone-new',
        'deleted gone-vanishes',
        'updated gone-changes',
      ]);
    });
    expect(logged).toContain('watch expired, relisting');
    expect(
      informer
        .list()
        .map((object) => object.metadata?.name)
        .sort(),
    ).toEqual(['gone-changes', 'gone-new', 'gone-stays']);
  });
});
