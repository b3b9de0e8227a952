// Kubeconfig files without @kubernetes/client-node, whose import alone costs a process ~85 MiB: parsed into
// client-node's own shapes (Cluster, User, Context, with its checks and messages), merged as its mergeConfig
// merges, and a ClusterAccess for RestClient that applies what a program needs on its own: a token or token
// file, client certificates, basic auth, CA and server name, or the in-cluster service account. Exec and
// auth-provider plugins (cloud logins) are client-node's: needsPlugin tells the caller to load it for those.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import type { RequestOptions } from 'node:https';
import { isIPv6 } from 'node:net';
import { dirname, isAbsolute, join } from 'node:path';
import { systemClock, type Clock } from './clock.ts';
import type { ClusterAccess } from './rest.ts';
import { yaml } from './yaml.ts';

export interface Cluster {
  name: string;
  /** Without a trailing slash. */
  server: string;
  caData?: string;
  caFile?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
}

export interface User {
  name: string;
  token?: string;
  tokenFile?: string;
  certData?: string;
  certFile?: string;
  keyData?: string;
  keyFile?: string;
  username?: string;
  password?: string;
  impersonateUser?: string;
  /** A plugin's configuration, as the file has it: for client-node. */
  exec?: unknown;
  authProvider?: unknown;
}

export interface Context {
  name: string;
  cluster: string;
  user?: string;
  namespace?: string;
}

export interface Kubeconfig {
  clusters: Cluster[];
  users: User[];
  contexts: Context[];
  currentContext?: string;
}

type Fields = Record<string, unknown>;

function isFields(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field; a YAML number or boolean (token: 1234) is its text, as client-node would send it. */
function text(fields: Fields | undefined, key: string, where: string): string | undefined {
  const value = fields?.[key];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Error(`${where}.${key} must be a string`);
}

/** A file a kubeconfig names, relative to the kubeconfig's directory (client-go's rule). */
function path(dir: string, file: string | undefined): string | undefined {
  return file === undefined || isAbsolute(file) ? file : join(dir, file);
}

/** The entries of a list field: a missing or non-list field is no entries, as in client-node. */
function entries(content: Fields, key: string): Fields[] {
  const list = content[key];
  if (!Array.isArray(list)) return [];
  return list.map((entry, index) => {
    if (!isFields(entry) || !entry.name) throw new Error(`${key}[${index}].name is missing`);
    return entry;
  });
}

function cluster(entry: Fields, index: number, dir: string): Cluster {
  const where = `clusters[${index}].cluster`;
  if (!isFields(entry.cluster)) throw new Error(`${where} is missing`);
  const server = text(entry.cluster, 'server', where);
  if (server === undefined) throw new Error(`${where}.server is missing`);
  return {
    name: String(entry.name),
    server: server.replace(/\/$/, ''),
    caData: text(entry.cluster, 'certificate-authority-data', where),
    caFile: path(dir, text(entry.cluster, 'certificate-authority', where)),
    skipTLSVerify: entry.cluster['insecure-skip-tls-verify'] === true,
    tlsServerName: text(entry.cluster, 'tls-server-name', where),
  };
}

function user(entry: Fields, index: number, dir: string): User {
  const where = `users[${index}].user`;
  const fields = isFields(entry.user) ? entry.user : undefined;
  return {
    name: String(entry.name),
    token: text(fields, 'token', where),
    tokenFile: path(dir, text(fields, 'tokenFile', where) ?? text(fields, 'token-file', where)),
    certData: text(fields, 'client-certificate-data', where),
    certFile: path(dir, text(fields, 'client-certificate', where)),
    keyData: text(fields, 'client-key-data', where),
    keyFile: path(dir, text(fields, 'client-key', where)),
    username: text(fields, 'username', where),
    password: text(fields, 'password', where),
    impersonateUser: text(fields, 'as', where),
    exec: fields?.exec ?? undefined,
    authProvider: fields?.['auth-provider'] ?? undefined,
  };
}

function context(entry: Fields, index: number): Context {
  const where = `contexts[${index}].context`;
  if (!isFields(entry.context)) throw new Error(`${where} is missing`);
  const cluster = text(entry.context, 'cluster', where);
  if (cluster === undefined) throw new Error(`${where}.cluster is missing`);
  return {
    name: String(entry.name),
    cluster,
    user: text(entry.context, 'user', where),
    namespace: text(entry.context, 'namespace', where),
  };
}

/**
 * A kubeconfig's content. JSON is YAML: a JSON kubeconfig (as tools and tests write them) is parsed without
 * loading the YAML parser (runtime/yaml.ts); anything else, or JSON that JSON.parse refuses, by the YAML parser.
 */
function parseDocument(source: string): unknown {
  if (source.trimStart().startsWith('{')) {
    try {
      return JSON.parse(source);
    } catch {
      // YAML's flow style, or broken: the YAML parser tells.
    }
  }
  return yaml().parse(source, { logLevel: 'error' });
}

/** Parses a kubeconfig's text; relative file names are taken from `dir`. Throws what is wrong with it. */
export function parseKubeconfig(source: string, dir: string): Kubeconfig {
  const content = parseDocument(source);
  if (!isFields(content)) throw new Error('it holds no mapping');
  return {
    clusters: entries(content, 'clusters').map((entry, index) => cluster(entry, index, dir)),
    users: entries(content, 'users').map((entry, index) => user(entry, index, dir)),
    contexts: entries(content, 'contexts').map((entry, index) => context(entry, index)),
    currentContext: text(content, 'current-context', 'the kubeconfig'),
  };
}

/** Reads and parses a kubeconfig file. Read errors keep their code (ENOENT, EISDIR); the rest have none. */
export function readKubeconfig(file: string): Kubeconfig {
  const source = readFileSync(file, 'utf8');
  return parseKubeconfig(source, dirname(file));
}

/**
 * `next` merged into `base` as client-node's mergeConfig (and so the sharder before this module) does: a
 * current-context that `next` sets wins; a cluster, user or context whose name both have is an error.
 */
export function mergeKubeconfigs(base: Kubeconfig, next: Kubeconfig): Kubeconfig {
  const merged = <T extends { name: string }>(kind: string, first: T[], second: T[]): T[] => {
    for (const entry of second) {
      if (first.some(({ name }) => name === entry.name)) throw new Error(`Duplicate ${kind}: ${entry.name}`);
    }
    return [...first, ...second];
  };
  return {
    clusters: merged('cluster', base.clusters, next.clusters),
    users: merged('user', base.users, next.users),
    contexts: merged('context', base.contexts, next.contexts),
    currentContext: next.currentContext ?? base.currentContext,
  };
}

export const serviceAccountDirectory = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * A pod's own configuration, as client-node's loadFromCluster makes it: the API server at
 * KUBERNETES_SERVICE_HOST and _PORT (http on 80, 8080 and 8001), verified with the service account's ca.crt, and
 * its token file, which the kubelet rotates.
 */
export function inClusterKubeconfig(host: string, port: string, dir = serviceAccountDirectory): Kubeconfig {
  const scheme = ['80', '8080', '8001'].includes(port) ? 'http' : 'https';
  const server = `${scheme}://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  return {
    clusters: [{ name: 'inCluster', server, caFile: join(dir, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: 'inClusterUser', tokenFile: join(dir, 'token') }],
    contexts: [{ name: 'inClusterContext', cluster: 'inCluster', user: 'inClusterUser' }],
    currentContext: 'inClusterContext',
  };
}

/** The current context, its cluster and user (undefined where the kubeconfig lacks them). */
export function currentContext(config: Kubeconfig): { context?: Context; cluster?: Cluster; user?: User } {
  const context = config.contexts.find(({ name }) => name === config.currentContext);
  if (context === undefined) return {};
  return {
    context,
    cluster: config.clusters.find(({ name }) => name === context.cluster),
    user: config.users.find(({ name }) => name === context.user),
  };
}

/** Whether the current user logs in with an exec or auth-provider plugin, which only client-node runs. */
export function needsPlugin(config: Kubeconfig): boolean {
  const { user } = currentContext(config);
  return user?.exec !== undefined || user?.authProvider !== undefined;
}

function material(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file !== undefined) return readFileSync(file);
  return data === undefined ? undefined : Buffer.from(data, 'base64');
}

/**
 * How long a token read from its file is sent before the file is read again: client-go's cached file token
 * source takes one for a minute. The kubelet rotates a bound service-account token at 80 % of its lifetime
 * (at least an hour), so a minute-old token is still valid; reading it once a minute rather than at each
 * request keeps a file system call off every request of a sync.
 */
export const tokenFileRereadMs = 60_000;

/**
 * A token file, read again once the token read last is a minute old. A failed read keeps the token read last,
 * as client-go does; the next request tries again. Requests that find it stale together share one read.
 */
class TokenFile {
  readonly #path: string;
  readonly #clock: Pick<Clock, 'now'>;
  #token: string;
  #readAt: number;
  #reading: Promise<void> | undefined;

  constructor(path: string, clock: Pick<Clock, 'now'>) {
    this.#path = path;
    this.#clock = clock;
    this.#token = readFileSync(path, 'utf8').trim();
    this.#readAt = clock.now();
  }

  async token(): Promise<string> {
    if (this.#clock.now() - this.#readAt >= tokenFileRereadMs) {
      this.#reading ??= this.#reread().finally(() => {
        this.#reading = undefined;
      });
      await this.#reading;
    }
    return this.#token;
  }

  async #reread(): Promise<void> {
    const at = this.#clock.now();
    try {
      this.#token = (await readFile(this.#path, 'utf8')).trim();
      this.#readAt = at;
    } catch {
      // Keep the last token.
    }
  }
}

export interface KubeconfigAccessOptions {
  /** When a token file is read again (tokenFileRereadMs); default the system's. */
  clock?: Pick<Clock, 'now'>;
}

/**
 * The current context of a kubeconfig without plugins, for RestClient. Its files (CA, client certificate and
 * key, token file) are read here, so that a missing one fails at once with its errno; the token file again
 * once a minute.
 */
export class KubeconfigAccess implements ClusterAccess {
  readonly #cluster: Cluster;
  readonly #tls: Pick<RequestOptions, 'ca' | 'cert' | 'key' | 'servername' | 'rejectUnauthorized'> = {};
  readonly #headers: Record<string, string> = {};
  readonly #auth: string | undefined;
  readonly #token: string | undefined;
  readonly #tokenFile: TokenFile | undefined;

  constructor(config: Kubeconfig, { clock = systemClock }: KubeconfigAccessOptions = {}) {
    const { cluster, user } = currentContext(config);
    if (cluster === undefined) throw new Error('the kubeconfig has no current cluster');
    if (needsPlugin(config))
      throw new Error(`user "${user?.name}" needs a plugin: use client-node's KubeConfig`);
    this.#cluster = cluster;
    const tls = this.#tls;
    if (cluster.skipTLSVerify) tls.rejectUnauthorized = false;
    if (cluster.tlsServerName !== undefined) tls.servername = cluster.tlsServerName;
    const ca = material(cluster.caFile, cluster.caData);
    if (ca !== undefined) tls.ca = ca;
    if (user === undefined) return;
    const cert = material(user.certFile, user.certData);
    if (cert !== undefined) tls.cert = cert;
    const key = material(user.keyFile, user.keyData);
    if (key !== undefined) tls.key = key;
    if (user.impersonateUser !== undefined) this.#headers['impersonate-user'] = user.impersonateUser;
    if (user.username !== undefined) this.#auth = `${user.username}:${user.password ?? ''}`;
    // A token in the file wins over its token file, as in client-node.
    this.#token = user.token;
    if (user.token === undefined && user.tokenFile !== undefined)
      this.#tokenFile = new TokenFile(user.tokenFile, clock);
  }

  getCurrentCluster(): Cluster {
    return this.#cluster;
  }

  async applyToHTTPSOptions(options: RequestOptions): Promise<void> {
    Object.assign(options, this.#tls);
    const token = this.#tokenFile === undefined ? this.#token : await this.#tokenFile.token();
    options.headers = {
      // RestClient's options hold no headers yet; an array of raw headers is none of ours.
      ...(options.headers as OutgoingHttpHeaders | undefined),
      ...this.#headers,
      ...(token === undefined || token === '' ? {} : { authorization: `Bearer ${token}` }),
    };
    if (this.#auth !== undefined) options.auth = this.#auth;
  }
}
