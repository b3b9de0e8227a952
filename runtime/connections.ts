// The REST client's connections to the API server: node's own HTTP agent, keeping connections alive, which
// hands a request a connection only once it is established (TCP, and TLS for https). So the fence's check
// (runtime/fence.ts), made when a request gets its connection, is followed by the write at once and never by
// a handshake. Node's agent, not undici's: its HTTP parser is native, where undici's is WebAssembly, whose
// code and memory the sharder's idle RSS paid for (docs/performance/sharder-memory.md).
import type { Agent as HttpAgent, AgentOptions as HttpAgentOptions } from 'node:http';
import { Agent as HttpsAgent, type AgentOptions as HttpsAgentOptions } from 'node:https';
import type { Socket } from 'node:net';
import { http } from './node-http.ts';

/** The TLS material and timing of a client's connections. */
export interface ConnectionOptions {
  /** The API server's URL: its protocol (http: or https:) picks the transport. */
  server: URL;
  /** For https: the trust, client certificate and name checks of tls.connect. */
  tls?: Pick<HttpsAgentOptions, 'secureContext' | 'servername' | 'rejectUnauthorized'>;
  /** A connection not established (TCP and TLS) within this long has failed. */
  connectTimeoutMs: number;
  /**
   * A connection silent this long is closed: kept and waiting for a request, or waiting for an answer (the
   * request has a 'timeout' event then, and a request setting its own timeout overrides it).
   */
  idleTimeoutMs: number;
}

type Done = (error: Error | null, socket?: Socket) => void;
/** The part of node's Agent that makes connections: it takes the socket returned, or waits for `done`. */
interface Connecting {
  createConnection(options: object, done: Done): Socket | undefined;
}

/**
 * Makes `agent` hand over a connection only once `established` is emitted on it, failing the connection on
 * an error or after `timeoutMs`.
 */
function handOverEstablished(
  agent: HttpAgent,
  established: 'connect' | 'secureConnect',
  timeoutMs: number,
): void {
  const connecting = agent as unknown as Connecting;
  const create = connecting.createConnection.bind(agent) as (options: object) => Socket;
  connecting.createConnection = (options, done) => {
    // Without `done`: net.createConnection would take it for a 'connect' listener.
    const socket = create(options);
    const fail = (error: Error): void => {
      socket.destroy();
      done(error);
    };
    const timeout = (): void => {
      fail(new Error(`connection not established within ${timeoutMs} ms`));
    };
    socket.setTimeout(timeoutMs, timeout);
    socket.once('error', fail);
    socket.once(established, () => {
      socket.off('timeout', timeout);
      socket.off('error', fail);
      socket.setTimeout(0);
      done(null, socket);
    });
    return undefined;
  };
}

/**
 * An agent for `options.server` whose connections are kept alive and handed over established. It serves one
 * server with one TLS configuration, so all its connections are one pool: the name node's agent would build
 * from each request's options (host, port and every TLS option) is a constant.
 */
export function connectionAgent(options: ConnectionOptions): HttpAgent {
  const common: HttpAgentOptions = {
    keepAlive: true,
    // One timeout for idle and busy connections: a request's own would be set on its socket for each request.
    timeout: options.idleTimeoutMs,
  };
  const plain = options.server.protocol === 'http:';
  const agent = plain ? new http.Agent(common) : new HttpsAgent({ ...common, ...options.tls });
  agent.getName = () => options.server.host;
  handOverEstablished(agent, plain ? 'connect' : 'secureConnect', options.connectTimeoutMs);
  return agent;
}
