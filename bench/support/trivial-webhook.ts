// The trivial webhook of bench/webhook-overhead.ts: a minimal node:https server that admits every review
// without a patch, with the sharder's serving certificate and node's defaults otherwise. It is the floor a
// webhook in Node.js costs the API server; the ring's webhook is measured against it. GET /calls answers how
// many reviews it admitted, GET /durations the time of each call since the last GET /durations (JSON, in ms:
// from its request event to its answer, as the sharder's histogram times a call); the first review's body is
// written to --capture, to replay it at the sharder.
//   node bench/support/trivial-webhook.ts --port 8443 --cert-file tls.crt --key-file tls.key --capture review.json
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    'cert-file': { type: 'string' },
    'key-file': { type: 'string' },
    capture: { type: 'string' },
  },
  strict: true,
});
const { port, 'cert-file': certFile, 'key-file': keyFile, capture } = values;
if (port === undefined || certFile === undefined || keyFile === undefined) {
  throw new Error('--port, --cert-file and --key-file are required');
}

let calls = 0;
let durations: number[] = [];
const server = createServer(
  { cert: readFileSync(certFile), key: readFileSync(keyFile) },
  (request, response) => {
    const started = performance.now();
    if (request.method === 'GET') {
      response.end(request.url === '/durations' ? JSON.stringify(durations) : String(calls));
      if (request.url === '/durations') durations = [];
      return;
    }
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks);
      if (calls++ === 0 && capture !== undefined) writeFileSync(capture, body);
      const { request: review } = JSON.parse(body.toString()) as { request: { uid: string } };
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify({
          apiVersion: 'admission.k8s.io/v1',
          kind: 'AdmissionReview',
          response: { uid: review.uid, allowed: true },
        }),
      );
      durations.push(performance.now() - started);
    });
  },
);
server.listen(Number(port), '127.0.0.1');
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    server.close();
    server.closeAllConnections();
  });
}
