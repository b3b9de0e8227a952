// The plain HTTP endpoints the kubelet and Prometheus poll: /healthz and /readyz from Probes, /metrics from a
// prom-client Registry. One server may serve both, or two servers one each (controller-runtime's defaults are
// :8080 for metrics and :8081 for probes, so that a NetworkPolicy or Service can expose only the metrics).
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { http } from './node-http.ts';
import type { Probe, Probes } from './probes.ts';

export interface MonitoringServerOptions {
  /** Interface to listen on; default all of them. */
  host?: string;
  /** 0 picks a free port (see start()). */
  port: number;
  /** Serves /healthz and /readyz from these checks. */
  probes?: Probes;
  /** Serves /metrics from this registry. */
  metrics?: Registry;
  logger: Logger;
}

type Route = (url: URL) => Promise<{ status: number; contentType: string; body: string }>;

const plainText = 'text/plain; charset=utf-8';

export class MonitoringServer {
  readonly #options: MonitoringServerOptions;
  readonly #routes = new Map<string, Route>();
  #server: Server | undefined;

  constructor(options: MonitoringServerOptions) {
    this.#options = options;
    const { probes, metrics } = options;
    if (probes) {
      for (const probe of ['healthz', 'readyz'] as const) {
        this.#routes.set(`/${probe}`, (url) => this.#probe(probes, probe, url.searchParams.has('verbose')));
      }
    }
    if (metrics) {
      this.#routes.set('/metrics', async () => ({
        status: 200,
        contentType: metrics.contentType,
        body: await metrics.metrics(),
      }));
    }
  }

  /** Listens; resolves with the port actually bound. */
  async start(): Promise<{ port: number }> {
    if (this.#server) throw new Error('MonitoringServer was already started');
    const server = http.createServer((request, response) => {
      void this.#handle(request, response);
    });
    this.#server = server;
    const { host, port } = this.#options;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      this.#server = undefined;
      throw error;
    }
    return { port: (server.address() as AddressInfo).port };
  }

  /**
   * Stops listening and closes every connection, idle keep-alive ones and those of requests still in
   * flight (a hanging check must not hold the process), so nothing of the server keeps the process alive.
   */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve, reject) => {
      server.close((error) => {
        if (error) reject(error);
        else resolve();
      });
    });
    server.closeAllConnections();
    await closed;
  }

  async #handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const route = this.#routes.get(url.pathname);
    if (!route) {
      send(response, 404, plainText, '404 page not found\n');
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      send(response, 405, plainText, 'method not allowed\n');
      return;
    }
    try {
      const { status, contentType, body } = await route(url);
      send(response, status, contentType, body);
    } catch (error) {
      this.#options.logger.error({ err: error, path: url.pathname }, 'monitoring endpoint failed');
      send(response, 500, plainText, 'internal server error\n');
    }
  }

  // The format of the Kubernetes components: "ok", or one line per check, the reason of a failure withheld
  // (the endpoints are unauthenticated) and logged instead.
  async #probe(probes: Probes, probe: Probe, verbose: boolean): ReturnType<Route> {
    const statuses = await probes.check(probe);
    const lines = statuses.map(({ name, failure }) =>
      failure === undefined ? `[+]${name} ok\n` : `[-]${name} failed: reason withheld\n`,
    );
    const failures = statuses.filter(({ failure }) => failure !== undefined);
    if (failures.length > 0) {
      const reasons = Object.fromEntries(failures.map(({ name, failure }) => [name, failure]));
      this.#options.logger.info({ probe, failures: reasons }, `${probe} check failed`);
      return { status: 500, contentType: plainText, body: `${lines.join('')}${probe} check failed\n` };
    }
    const body = verbose ? `${lines.join('')}${probe} check passed\n` : 'ok';
    return { status: 200, contentType: plainText, body };
  }
}

function send(response: ServerResponse, status: number, contentType: string, body: string): void {
  response.writeHead(status, { 'Content-Type': contentType, 'X-Content-Type-Options': 'nosniff' });
  response.end(body);
}
