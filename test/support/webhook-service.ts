// What a Service in front of the sharder's replicas does for the webhook: one address for the API server,
// connections passed on to any replica that is up. Without it the webhook configuration would name the
// leader's own port, and a killed leader would take the webhook down with it until the next leader rewrites it.
import { connect, createServer, type Socket } from 'node:net';

export interface WebhookService {
  url: string;
  /** Replicas' webhook ports; connections go to the first that accepts them. */
  ports: Set<number>;
  /**
   * Takes `port` out and resets the connections passed on to it: a frozen replica's kernel still takes the
   * bytes, so a kept-alive connection would hold the API server's next calls until the webhook's timeout.
   */
  cut(port: number): void;
  close(): Promise<void>;
}

/**
 * Each open client connection, and where it was passed on to once it was: the replica's port, and the
 * connection to it.
 */
type Clients = Map<Socket, { port: number; target: Socket } | undefined>;

function forward(client: Socket, ports: number[], clients: Clients): void {
  const [port, ...rest] = ports;
  if (port === undefined) {
    client.destroy();
    return;
  }
  const target = connect(port, '127.0.0.1');
  target.once('error', () => {
    // Refused: that replica is down; try the next one. Once piping, an error ends both sides.
    if (!target.readable || target.bytesRead === 0) forward(client, rest, clients);
    else client.destroy();
  });
  target.once('connect', () => {
    clients.set(client, { port, target });
    target.on('error', () => client.destroy());
    client.on('error', () => target.destroy());
    client.pipe(target).pipe(client);
  });
}

export async function startWebhookService(): Promise<WebhookService> {
  const ports = new Set<number>();
  const clients: Clients = new Map();
  const server = createServer((client) => {
    clients.set(client, undefined);
    client.on('close', () => {
      clients.delete(client);
    });
    client.pause();
    forward(client, [...ports], clients);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the webhook service has no port');
  return {
    url: `https://127.0.0.1:${address.port}`,
    ports,
    cut(port) {
      ports.delete(port);
      for (const [client, route] of clients) {
        if (route?.port !== port) continue;
        client.destroy();
        route.target.destroy();
      }
    },
    close: () =>
      new Promise((resolve) => {
        for (const client of clients.keys()) client.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
