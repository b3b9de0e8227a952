// What a Service in front of the sharder's replicas does for the webhook: one address for the API server,
// connections passed on to any replica that is up. Without it the webhook configuration would name the
// leader's own port, and a killed leader would take the webhook down with it until the next leader rewrites it.
import { connect, createServer, type Socket } from 'node:net';

export interface WebhookService {
  url: string;
  /** Replicas' webhook ports; connections go to the first that accepts them. */
  ports: Set<number>;
  close(): Promise<void>;
}

function forward(client: Socket, ports: number[]): void {
  const [port, ...rest] = ports;
  if (port === undefined) {
    client.destroy();
    return;
  }
  const target = connect(port, '127.0.0.1');
  target.once('error', () => {
    // Refused: that replica is down; try the next one. Once piping, an error ends both sides.
    if (!target.readable || target.bytesRead === 0) forward(client, rest);
    else client.destroy();
  });
  target.once('connect', () => {
    target.on('error', () => client.destroy());
    client.on('error', () => target.destroy());
    client.pipe(target).pipe(client);
  });
}

export async function startWebhookService(): Promise<WebhookService> {
  const ports = new Set<number>();
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => {
      sockets.delete(client);
    });
    client.pause();
    forward(client, [...ports]);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the webhook service has no port');
  return {
    url: `https://127.0.0.1:${address.port}`,
    ports,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}
