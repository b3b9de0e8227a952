// A TCP proxy in front of the API server that a test can cut, so that one client loses the API server (its
// connections reset, new ones refused) while the test keeps talking to it directly, or hold, so that a client's
// new connections are accepted but their handshakes wait. TLS passes through: the serving certificate is valid
// for 127.0.0.1, whatever the port.
import { createServer, connect, type Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface TcpProxy {
  /** A copy of `kubeConfig` whose current cluster is reached through the proxy. */
  kubeConfig: KubeConfig;
  /** Resets the open connections and refuses new ones until resume(). */
  cut(): void;
  resume(): void;
  /** Accepts new connections but passes nothing on them until release(). */
  hold(): void;
  /** Resolves once a connection is held (at once if one is). */
  held(): Promise<void>;
  /** Passes the held connections on, and new ones at once. */
  release(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(kubeConfig: KubeConfig): Promise<TcpProxy> {
  const cluster = kubeConfig.getCurrentCluster();
  if (cluster === null) throw new Error('the kubeconfig has no current cluster');
  const upstream = new URL(cluster.server);
  const open = new Set<Socket>();
  let cut = false;
  let holding = false;
  const heldConnections: (() => void)[] = [];
  const heldWaiters: (() => void)[] = [];
  const pass = (client: Socket): void => {
    const target = connect(Number(upstream.port), upstream.hostname);
    for (const [socket, peer] of [
      [client, target],
      [target, client],
    ] as const) {
      open.add(socket);
      socket.pipe(peer);
      socket
        .on('error', () => peer.destroy())
        .on('close', () => {
          open.delete(socket);
          peer.destroy();
        });
    }
  };
  const server = createServer((client) => {
    if (cut) {
      client.resetAndDestroy();
      return;
    }
    if (!holding) {
      pass(client);
      return;
    }
    open.add(client);
    heldConnections.push(() => {
      open.delete(client);
      pass(client);
    });
    heldWaiters.splice(0).forEach((resolve) => {
      resolve();
    });
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the proxy has no port');

  const proxied = new KubeConfig();
  proxied.loadFromOptions({
    clusters: kubeConfig.clusters.map((entry) =>
      entry.name === cluster.name ? { ...entry, server: `https://127.0.0.1:${address.port}` } : entry,
    ),
    users: kubeConfig.users,
    contexts: kubeConfig.contexts,
    currentContext: kubeConfig.currentContext,
  });
  return {
    kubeConfig: proxied,
    cut() {
      cut = true;
      for (const socket of open) socket.resetAndDestroy();
    },
    resume() {
      cut = false;
    },
    hold() {
      holding = true;
    },
    held: () =>
      new Promise<void>((resolve) => {
        if (heldConnections.length > 0) resolve();
        else heldWaiters.push(resolve);
      }),
    release() {
      holding = false;
      heldConnections.splice(0).forEach((start) => {
        start();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of open) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
