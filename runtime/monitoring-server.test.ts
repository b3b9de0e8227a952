import { afterEach, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino, type Logger } from 'pino';
import { Counter, Registry } from 'prom-client';
import { MonitoringServer, type MonitoringServerOptions } from './monitoring-server.ts';
import { Probes } from './probes.ts';

const silent = pino({ level: 'silent' });
const servers: MonitoringServer[] = [];

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.stop()));
});

async function serve(
  options: Omit<MonitoringServerOptions, 'port' | 'host' | 'logger'> & { logger?: Logger },
) {
  const server = new MonitoringServer({ host: '127.0.0.1', port: 0, logger: silent, ...options });
  servers.push(server);
  const { port } = await server.start();
  return {
    server,
    port,
    get: async (path: string, init?: RequestInit) => {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, init);
      return {
        status: response.status,
        type: response.headers.get('content-type'),
        body: await response.text(),
      };
    },
  };
}

/** A logger whose records the test can read. */
function recordingLogger() {
  const records: Record<string, unknown>[] = [];
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        records.push(JSON.parse(line) as Record<string, unknown>);
      },
    },
  );
  return { logger, records };
}

describe('MonitoringServer probes', () => {
  it('answers ok while every check passes, and lists them with ?verbose', async () => {
    const probes = new Probes();
    probes.addHealthCheck('ping', () => true);
    probes.addReadinessCheck('synced', () => true);
    probes.addReadinessCheck('leader', () => Promise.resolve(true));
    const { get } = await serve({ probes });

    expect(await get('/healthz')).toEqual({ status: 200, type: 'text/plain; charset=utf-8', body: 'ok' });
    expect(await get('/readyz')).toEqual({ status: 200, type: 'text/plain; charset=utf-8', body: 'ok' });
    expect((await get('/readyz?verbose')).body).toBe('[+]synced ok\n[+]leader ok\nreadyz check passed\n');
    expect((await get('/healthz?verbose=true')).body).toBe('[+]ping ok\nhealthz check passed\n');
  });

  it('answers ok without checks', async () => {
    const { get } = await serve({ probes: new Probes() });
    expect(await get('/readyz')).toMatchObject({ status: 200, body: 'ok' });
  });

  it('answers 500 naming the failing checks, and logs their reasons instead of serving them', async () => {
    const probes = new Probes();
    let leader = false;
    probes.addHealthCheck('ping', () => true);
    probes.addReadinessCheck('synced', () => true);
    probes.addReadinessCheck('leader', () => leader);
    probes.addReadinessCheck('lease', () => Promise.reject(new Error('lease not renewed for 20s')));
    const { logger, records } = recordingLogger();
    const { get } = await serve({ probes, logger });

    const expected = [
      '[+]synced ok',
      '[-]leader failed: reason withheld',
      '[-]lease failed: reason withheld',
      'readyz check failed',
      '',
    ].join('\n');
    expect(await get('/readyz')).toEqual({ status: 500, type: 'text/plain; charset=utf-8', body: expected });
    expect((await get('/readyz?verbose')).body).toBe(expected);
    expect(records).toContainEqual(
      expect.objectContaining({
        msg: 'readyz check failed',
        probe: 'readyz',
        failures: { leader: 'check returned false', lease: 'lease not renewed for 20s' },
      }),
    );
    expect(await get('/healthz')).toMatchObject({ status: 200, body: 'ok' });

    leader = true;
    expect((await get('/readyz')).body).toBe(
      '[+]synced ok\n[+]leader ok\n[-]lease failed: reason withheld\nreadyz check failed\n',
    );
  });
});

describe('MonitoringServer endpoints', () => {
  it('serves the registry on /metrics in the Prometheus text format', async () => {
    const registry = new Registry();
    new Counter({ name: 'demo_events_total', help: 'Events', registers: [registry] }).inc(3);
    const { get } = await serve({ metrics: registry });

    const metrics = await get('/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(metrics.body).toContain('# TYPE demo_events_total counter\ndemo_events_total 3\n');
  });

  it('serves only the endpoints it was given, so metrics and probes can have ports of their own', async () => {
    const registry = new Registry();
    const probes = new Probes();
    const metricsOnly = await serve({ metrics: registry });
    const probesOnly = await serve({ probes });
    const both = await serve({ metrics: registry, probes });

    expect((await metricsOnly.get('/healthz')).status).toBe(404);
    expect((await metricsOnly.get('/readyz')).status).toBe(404);
    expect((await probesOnly.get('/metrics')).status).toBe(404);
    for (const path of ['/healthz', '/readyz', '/metrics']) expect((await both.get(path)).status).toBe(200);
    expect((await both.get('/')).status).toBe(404);
  });

  it('answers only GET and HEAD', async () => {
    const { get } = await serve({ probes: new Probes() });
    expect(await get('/healthz', { method: 'HEAD' })).toMatchObject({ status: 200, body: '' });
    expect((await get('/healthz', { method: 'POST' })).status).toBe(405);
  });

  it('answers 500 when the registry fails to collect, and logs why', async () => {
    const registry = new Registry();
    new Counter({
      name: 'broken_total',
      help: 'Fails to collect',
      registers: [registry],
      collect() {
        throw new Error('source gone');
      },
    });
    const { logger, records } = recordingLogger();
    const { get } = await serve({ metrics: registry, logger });
    expect((await get('/metrics')).status).toBe(500);
    expect(records).toContainEqual(
      expect.objectContaining({
        msg: 'monitoring endpoint failed',
        err: expect.objectContaining({ message: 'source gone' }),
      }),
    );
  });
});

describe('MonitoringServer lifecycle', () => {
  it('rejects start() when the port is taken, and can start once it is free', async () => {
    const { port } = await serve({ probes: new Probes() });
    const second = new MonitoringServer({ host: '127.0.0.1', port, logger: silent, probes: new Probes() });
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    await Promise.all(servers.splice(0).map((server) => server.stop()));
    servers.push(second);
    expect(await second.start()).toEqual({ port });
  });

  it('stop() closes idle keep-alive connections and requests still in flight', async () => {
    const probes = new Probes();
    const called = Promise.withResolvers<undefined>();
    const hanging = Promise.withResolvers<boolean>();
    probes.addReadinessCheck('hangs', () => {
      called.resolve(undefined);
      return hanging.promise;
    });
    const { server, port } = await serve({ probes });
    const agent = new Agent({ keepAlive: true });

    const inFlight = new Promise<Error>((resolve) => {
      request({ host: '127.0.0.1', port, path: '/readyz', agent }).on('error', resolve).end();
    });
    await called.promise;
    const idle = await new Promise<Socket>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/healthz', agent }, (response) => {
        const { socket } = response;
        response.resume();
        response.on('end', () => {
          resolve(socket);
        });
      })
        .on('error', reject)
        .end();
    });
    const idleClosed = new Promise((resolve) => idle.once('close', resolve));

    await server.stop();
    await idleClosed;
    expect(await inFlight).toMatchObject({ code: 'ECONNRESET' });
    // The check ends after its connection is gone: the late answer must not throw.
    hanging.resolve(true);
    await new Promise((resolve) => setImmediate(resolve));
    agent.destroy();
  });

  it('stop() lets the process exit on its own', async () => {
    const module = (name: string) => JSON.stringify(new URL(name, import.meta.url).href);
    const script = `
      import { Agent, request } from 'node:http';
      import { pino } from 'pino';
      import { MonitoringServer } from ${module('./monitoring-server.ts')};
      import { Probes } from ${module('./probes.ts')};
      const probes = new Probes();
      const called = Promise.withResolvers();
      probes.addReadinessCheck('hangs', () => {
        called.resolve();
        return new Promise(() => {});
      });
      const server = new MonitoringServer({ host: '127.0.0.1', port: 0, probes, logger: pino({ level: 'silent' }) });
      const { port } = await server.start();
      const agent = new Agent({ keepAlive: true });
      request({ port, path: '/readyz', agent }).on('error', () => {}).end();
      await called.promise;
      await new Promise((resolve) => request({ port, path: '/healthz', agent }, (r) => r.resume().on('end', resolve)).end());
      await server.stop();
      console.log('stopped');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '--eval', script], {
      cwd: fileURLToPath(new URL('..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timeout = setTimeout(() => child.kill(), 20_000);
    const code = await new Promise((resolve) => child.on('exit', resolve));
    clearTimeout(timeout);
    expect({ code, output }).toEqual({ code: 0, output: 'stopped\n' });
  });
});
