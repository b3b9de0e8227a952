// The REST client against the real API server: DELETE preconditions in the body reach the server (and leave
// nothing behind on the connection for the next request), patch and accept types, error Statuses, aborts and
// watches; once with client-node's KubeConfig (as shard authors pass theirs) and once with the sharder's light
// kubeconfig (runtime/kubeconfig.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import {
  ApiError,
  isAlreadyExists,
  isConflict,
  metadataAccept,
  patchTypes,
  RestClient,
  type WatchEvent,
} from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import { testClusterAccess, testKubeConfig } from '../support/kube.ts';

/** Runs `run` and returns what it rejected with; fails if it resolved. */
async function rejection(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe.each([
  { access: "client-node's KubeConfig", kubeConfig: testKubeConfig, namespace: 'runtime-rest' },
  { access: 'the light kubeconfig', kubeConfig: testClusterAccess, namespace: 'runtime-rest-light' },
])('RestClient on a real API server, with $access', ({ kubeConfig, namespace }) => {
  const configMaps = `/api/v1/namespaces/${namespace}/configmaps`;
  const rest = new RestClient(kubeConfig());

  async function create(
    client: RestClient,
    name: string,
    data: Record<string, string> = {},
  ): Promise<IConfigMap> {
    return client.request<IConfigMap>({
      method: 'POST',
      path: configMaps,
      body: { metadata: { name }, data },
    });
  }

  beforeAll(async () => {
    await rest.request({
      method: 'POST',
      path: '/api/v1/namespaces',
      body: { metadata: { name: namespace } },
    });
  });

  afterAll(async () => {
    await rest.request({ method: 'DELETE', path: `/api/v1/namespaces/${namespace}` });
    rest.close();
  });

  it.each([
    {
      what: 'a stale resourceVersion',
      name: 'precondition-rv',
      preconditions: (object: IConfigMap) => ({ resourceVersion: object.metadata?.resourceVersion }),
      refusal: 'the ResourceVersion in the precondition',
    },
    {
      what: 'another uid',
      name: 'precondition-uid',
      preconditions: () => ({ uid: '00000000-0000-0000-0000-000000000000' }),
      refusal: 'the UID in the precondition',
    },
  ])(
    'refuses a DELETE whose precondition on $what fails, and the next request succeeds',
    async ({ name, preconditions, refusal }) => {
      const client = new RestClient(kubeConfig());
      try {
        const created = await create(client, name, { v: '1' });
        // Change the object, so that the resourceVersion it was created with is stale.
        await client.request({
          method: 'PATCH',
          path: `${configMaps}/${name}`,
          body: { data: { v: '2' } },
          contentType: patchTypes.merge,
        });

        const error = await rejection(() =>
          client.request({
            method: 'DELETE',
            path: `${configMaps}/${name}`,
            // Without apiVersion and kind, as the shard Lease reconciler sends it: the server defaults them.
            body: { preconditions: preconditions(created) },
          }),
        );
        expect(error).toBeInstanceOf(ApiError);
        expect(isConflict(error)).toBe(true);
        expect((error as ApiError).reason).toBe('Conflict');
        expect((error as ApiError).message).toContain(refusal);

        // The same client, on its kept connection: the whole body was read as the DELETE's.
        const still = await client.request<IConfigMap>({ path: `${configMaps}/${name}` });
        expect(still.metadata?.uid).toBe(created.metadata?.uid);
        expect(still.data).toEqual({ v: '2' });
      } finally {
        client.close();
      }
    },
  );

  it('deletes when the preconditions hold', async () => {
    const client = new RestClient(kubeConfig());
    try {
      const created = await create(client, 'precondition-holds');
      await client.request({
        method: 'DELETE',
        path: `${configMaps}/precondition-holds`,
        body: {
          preconditions: { uid: created.metadata?.uid, resourceVersion: created.metadata?.resourceVersion },
        },
      });
      const error = await rejection(() => client.request({ path: `${configMaps}/precondition-holds` }));
      expect(error).toMatchObject({ code: 404, reason: 'NotFound' });
    } finally {
      client.close();
    }
  });

  it("turns an error Status into an ApiError with the Status' code, reason and message, naming the request", async () => {
    const missing = await rejection(() => rest.request({ path: `${configMaps}/missing` }));
    expect(missing).toBeInstanceOf(ApiError);
    expect(missing).toMatchObject({
      code: 404,
      reason: 'NotFound',
      detail: 'configmaps "missing" not found',
      message: `GET ${configMaps}/missing: configmaps "missing" not found`,
    });
    expect((missing as ApiError).body).toMatchObject({ kind: 'Status', code: 404 });

    await create(rest, 'exists');
    const exists = await rejection(() => create(rest, 'exists'));
    expect(isAlreadyExists(exists)).toBe(true);
    expect(exists).toMatchObject({
      code: 409,
      method: 'POST',
      path: configMaps,
      message: `POST ${configMaps}: configmaps "exists" already exists`,
    });
  });

  it('sends each patch type with its content type, and asks for metadata only', async () => {
    const path = `${configMaps}/patched`;
    await create(rest, 'patched', { a: '1' });
    await rest.request({ method: 'PATCH', path, body: { data: { b: '2' } }, contentType: patchTypes.merge });
    await rest.request({
      method: 'PATCH',
      path,
      body: [{ op: 'add', path: '/data/c', value: '3' }],
      contentType: patchTypes.json,
    });
    await rest.request({
      method: 'PATCH',
      path,
      body: { data: { d: '4' } },
      contentType: patchTypes.strategicMerge,
    });
    const applied = await rest.request<IConfigMap>({
      method: 'PATCH',
      path,
      query: { fieldManager: 'runtime-rest-test', force: true },
      body: { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'patched' }, data: { e: '5' } },
      contentType: patchTypes.apply,
    });
    expect(applied.data).toEqual({ a: '1', b: '2', c: '3', d: '4', e: '5' });

    const metadata = await rest.request<{ kind: string; data?: unknown }>({ path, accept: metadataAccept });
    expect(metadata.kind).toBe('PartialObjectMetadata');
    expect(metadata.data).toBeUndefined();
  });

  it('drops a discarded answer unread, and still reads the Status of an error', async () => {
    const path = `${configMaps}/discarded`;
    await create(rest, 'discarded', { a: '1' });
    const patch = { method: 'PATCH', path, contentType: patchTypes.merge, discardAnswer: true } as const;
    await expect(rest.request({ ...patch, body: { data: { b: '2' } } })).resolves.toBeUndefined();
    expect((await rest.request<IConfigMap>({ path })).data).toEqual({ a: '1', b: '2' });
    const conflict = await rejection(() =>
      rest.request({ ...patch, body: { metadata: { resourceVersion: '1' }, data: { c: '3' } } }),
    );
    expect(conflict).toMatchObject({ code: 409, reason: 'Conflict' });
  });

  it("hands a successful answer's bytes to its decoder, and still reads an error's Status itself", async () => {
    const created = await create(rest, 'decoded', { a: '1' });
    const decoded: Buffer[] = [];
    const decode = (body: Buffer): string => {
      decoded.push(body);
      return 'decoded';
    };
    const path = `${configMaps}/decoded`;
    await expect(rest.request({ path, decode })).resolves.toBe('decoded');
    expect(decoded).toHaveLength(1);
    expect(JSON.parse(decoded[0]?.toString() ?? '')).toMatchObject({
      metadata: { name: 'decoded', uid: created.metadata?.uid },
      data: { a: '1' },
    });
    const missing = await rejection(() => rest.request({ path: `${configMaps}/missing`, decode }));
    expect(missing).toMatchObject({ code: 404, reason: 'NotFound' });
    expect(decoded).toHaveLength(1);
  });

  it('rejects an aborted request with the abort, before it is sent and while it waits for its answer', async () => {
    const before = new AbortController();
    before.abort();
    const early = await rejection(() => rest.request({ path: configMaps, signal: before.signal }));
    expect(early).not.toBeInstanceOf(ApiError);
    expect(early).toMatchObject({ name: 'AbortError' });

    // A watch read as an ordinary request: its answer does not end for an hour unless the request is aborted.
    const during = new AbortController();
    const pending = rejection(() =>
      rest.request({ path: configMaps, query: { watch: true, timeoutSeconds: 3600 }, signal: during.signal }),
    );
    await create(rest, 'streamed');
    during.abort();
    const late = await pending;
    expect(late).not.toBeInstanceOf(ApiError);
    expect(late).toMatchObject({ name: 'AbortError' });

    // The client still works.
    const read = await rest.request<IConfigMap>({ path: `${configMaps}/streamed` });
    expect(read.metadata?.name).toBe('streamed');
  });

  it('delivers watch events as they happen and ends the watch when aborted', async () => {
    const list = await rest.request<{ metadata: { resourceVersion: string } }>({ path: configMaps });
    const events: WatchEvent<IConfigMap>[] = [];
    const stop = new AbortController();
    const watching = rest.watch<IConfigMap>(
      configMaps,
      { resourceVersion: list.metadata.resourceVersion, timeoutSeconds: 3600 },
      (event) => events.push(event),
      stop.signal,
    );
    await create(rest, 'watched', { v: '1' });
    await rest.request({
      method: 'PATCH',
      path: `${configMaps}/watched`,
      body: { data: { v: '2' } },
      contentType: patchTypes.merge,
    });
    await rest.request({ method: 'DELETE', path: `${configMaps}/watched` });
    await eventually(() => {
      expect(
        events.map(({ type, object }) => `${type} ${object.metadata?.name ?? ''} ${object.data?.v ?? ''}`),
      ).toEqual(['ADDED watched 1', 'MODIFIED watched 2', 'DELETED watched 2']);
    });

    stop.abort();
    await expect(watching).resolves.toBeUndefined();
  });

  it('rejects a watch the server refuses with its Status', async () => {
    const error = await rejection(() =>
      rest.watch(
        configMaps,
        { labelSelector: 'not a selector!' },
        () => undefined,
        new AbortController().signal,
      ),
    );
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 400, reason: 'BadRequest' });
    expect((error as ApiError).message).toMatch(new RegExp(`^GET ${configMaps}: `));
  });
});
