// The REST client against a local HTTPS server standing in for the API server: what a request carries.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RequestOptions } from 'node:https';
import { startHttpsStub, type HttpsStub } from '../test/support/https-stub.ts';
import { RestClient, type ClusterAccess } from './rest.ts';

let stub: HttpsStub;
let rawHeaders: string[] = [];

beforeAll(async () => {
  stub = await startHttpsStub((request, _body, response) => {
    rawHeaders = request.rawHeaders;
    response.setHeader('content-type', 'application/json');
    response.end('{}');
  });
});

afterAll(async () => {
  await stub.close();
});

/** The stub's kubeconfig, with `headers` added to every request's credentials. */
function withHeaders(headers: Record<string, string | string[]>): ClusterAccess {
  return {
    getCurrentCluster: () => stub.kubeConfig.getCurrentCluster(),
    async applyToHTTPSOptions(options: RequestOptions) {
      await stub.kubeConfig.applyToHTTPSOptions(options);
      options.headers = { ...(options.headers as Record<string, string> | undefined), ...headers };
    },
  };
}

describe('RestClient', () => {
  it("sends the credentials' headers, one line per value of a header with several", async () => {
    const client = new RestClient(withHeaders({ 'impersonate-group': ['a', 'b'], 'impersonate-user': 'u' }));
    try {
      await client.request({ path: '/api' });
      const lines = [];
      for (let i = 0; i < rawHeaders.length; i += 2) lines.push(`${rawHeaders[i]}: ${rawHeaders[i + 1]}`);
      expect(lines).toEqual(
        expect.arrayContaining(['impersonate-group: a', 'impersonate-group: b', 'impersonate-user: u']),
      );
      expect(lines.filter((line) => line.startsWith('host: '))).toHaveLength(1);
    } finally {
      client.close();
    }
  });
});
