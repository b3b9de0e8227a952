// etcd through its JSON gateway (/v3/..., on the client URL), for tests that act on the storage under the
// API server: its current revision, and compaction.

async function post<T>(etcdUrl: string, path: string, body: unknown): Promise<T> {
  const response = await fetch(`${etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`etcd ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** etcd's current revision: the resourceVersion of the latest write through the API server. */
export async function etcdRevision(etcdUrl: string): Promise<number> {
  const status = await post<{ header: { revision: string } }>(etcdUrl, '/v3/maintenance/status', {});
  return Number(status.header.revision);
}

/**
 * Compacts etcd's history up to `revision` (physically, so it is gone when this resolves): watches that start
 * from an older revision then fail, and the API server answers them 410 Gone (when it serves them from etcd).
 */
export async function compactEtcd(etcdUrl: string, revision: number): Promise<void> {
  await post(etcdUrl, '/v3/kv/compaction', { revision: String(revision), physical: true });
}
