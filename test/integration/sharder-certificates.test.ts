// The sharder-managed webhook certificates (the default without certificate files) against the real API server:
// two replicas started at once agree on one Secret and serve its certificate, and a CA rotation with short
// validities, while objects are created all the time and the leader is frozen past its Lease just as the new CA
// joins, drops no webhook call.
import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { IMutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { shardLabel } from '../../api/v1alpha1/index.ts';
import { pemBlocks } from '../../cmd/sharder/webhook-certificates.ts';
import type { RestClient } from '../../runtime/rest.ts';
import { eventually } from '../support/eventually.ts';
import {
  createConfigMap,
  createTwoShardConfigMapRing,
  webhookEffective,
} from '../support/configmap-rings.ts';
import type { FakeShard } from '../support/fake-shard.ts';
import { readLogEntries } from '../support/log-lines.ts';
import { startTestCluster, type TestCluster } from '../support/own-control-plane.ts';
import { createNamespace } from '../support/rings.ts';
import {
  managedCertificates,
  quickLeaderElection,
  sharderLeader,
  startSharder,
  type SharderProcess,
} from '../support/sharder.ts';
import { startWebhookService, type WebhookService } from '../support/webhook-service.ts';

const sharderNamespace = 'sharder-system';
const shardNamespace = 'shards';
const objects = 'objects';
const ring = 'certificates';
const configurationPath = `/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/controller-rings-${ring}`;

let cluster: TestCluster | undefined;
// Assigned first thing in beforeAll.
let rest: RestClient;
let kubeconfigPath: string;
let service: WebhookService | undefined;
const shards: FakeShard[] = [];

beforeAll(async () => {
  cluster = await startTestCluster();
  rest = cluster.rest;
  kubeconfigPath = cluster.controlPlane.kubeconfigPath;
  for (const namespace of [sharderNamespace, shardNamespace, objects]) await createNamespace(rest, namespace);
  service = await startWebhookService();
});

afterAll(async () => {
  for (const shard of shards) shard.crash();
  await service?.close();
  await cluster?.stop();
});

const secretPath = (name: string): string => `/api/v1/namespaces/${sharderNamespace}/secrets/${name}`;
const decode = (base64: string | undefined): string => Buffer.from(base64 ?? '', 'base64').toString('utf8');

/** Two replicas started at the same moment, both behind the webhook Service. */
async function startTwo(secret: string | undefined, args: string[] = []): Promise<SharderProcess[]> {
  if (service === undefined) throw new Error('no webhook service');
  const certificates = await managedCertificates(secret);
  const url = service.url;
  const sharders = await Promise.all(
    ['sharder-0', 'sharder-1'].map((identity) =>
      startSharder({
        kubeconfigPath,
        namespace: sharderNamespace,
        identity,
        certificates,
        webhookUrl: url,
        args: [...quickLeaderElection, ...args],
      }),
    ),
  );
  service.ports.clear();
  for (const sharder of sharders) service.ports.add(sharder.webhookPort);
  return sharders;
}

async function stopAll(sharders: SharderProcess[]): Promise<void> {
  expect(await Promise.all(sharders.map((sharder) => sharder.stop()))).toEqual(sharders.map(() => 0));
}

/** The certificate a replica serves, verified against `caPem` (as the API server verifies it), as DER. */
function served(port: number, caPem: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, ca: caPem }, () => {
      const { raw } = socket.getPeerCertificate();
      socket.destroy();
      resolve(raw);
    });
    socket.once('error', reject);
  });
}

const der = (pem: string): Buffer => new X509Certificate(pem).raw;

describe('two replicas starting at once', () => {
  let sharders: SharderProcess[] = [];

  beforeAll(async () => {
    sharders = await startTwo(undefined);
    await createTwoShardConfigMapRing(rest, shards, { ring, shardNamespace, durationSeconds: 30 });
    await webhookEffective(rest, ring, objects);
  });

  afterAll(async () => {
    await stopAll(sharders);
  });

  it('create one Secret between them and serve its certificate, which the CA of every webhook configuration signed', async () => {
    const secret = await rest.request<ISecret>({
      path: secretPath('controller-rings-sharder-webhook-certificates'),
    });
    expect(secret.type).toBe('kubernetes.io/tls');
    expect(Object.keys(secret.data ?? {}).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    // Both tried; the API server let one create it, the other read it.
    const created = await Promise.all(
      sharders.map(async ({ logPath }) =>
        (await readFile(logPath, 'utf8'))
          .split('\n')
          .filter((line) => line.includes('created the webhook certificate Secret')),
      ),
    );
    expect(created.flat()).toHaveLength(1);
    const bundle = decode(secret.data?.['ca.crt']);
    for (const sharder of sharders) {
      expect((await served(sharder.webhookPort, bundle)).equals(der(decode(secret.data?.['tls.crt'])))).toBe(
        true,
      );
    }
    const configuration = await rest.request<IMutatingWebhookConfiguration>({ path: configurationPath });
    expect(configuration.webhooks?.[0]?.clientConfig.caBundle).toBe(secret.data?.['ca.crt']);
  });

  it('have the API server call the webhook: new objects are labelled', async () => {
    for (let i = 0; i < 5; i++) {
      const object = await createConfigMap(rest, objects, `started-at-once-${i}`);
      expect(object.metadata.labels?.[shardLabel(ring)]).toMatch(/^[ab]$/);
    }
  });
});

describe('rotation', () => {
  const secretName = 'rotating';
  let sharders: SharderProcess[] = [];

  beforeAll(async () => {
    // A CA for 45 s (the next one is added with 15 s left), serving certificates for 21 s (renewed with 7 s
    // left, more than the 4 s Lease a successor waits for), looked at every 500 ms: a whole CA rotation within a
    // minute. From the Secret's creation: renewals at 14 s and 28 s (cut at the CA's 45 s), the new CA at 30 s.
    sharders = await startTwo(secretName, [
      '--webhook-ca-validity=45s',
      '--webhook-certificate-validity=21s',
      '--webhook-certificate-reload-period=500ms',
    ]);
    // The ring's webhook configuration carries the new Secret's bundle, and the API server calls with it.
    await eventually(async () => {
      const secret = await rest.request<ISecret>({ path: secretPath(secretName) });
      const configuration = await rest.request<IMutatingWebhookConfiguration>({ path: configurationPath });
      expect(configuration.webhooks?.[0]?.clientConfig.caBundle).toBe(secret.data?.['ca.crt']);
    });
    await webhookEffective(rest, ring, objects);
  });

  afterAll(async () => {
    // Thawed first, should the test have failed with the leader frozen.
    for (const { pid } of sharders) if (pid !== undefined) process.kill(pid, 'SIGCONT');
    await stopAll(sharders);
  });

  it('adds the new CA beside the old, switches the certificate, drops the old CA, and no webhook call fails meanwhile, though the leader is frozen past its Lease as the new CA joins', async () => {
    const failures: string[] = [];
    // Frozen (SIGSTOP) once the bundle holds two CAs, for longer than the 4 s Lease: the other replica takes
    // over and finishes the rotation. Out of the Service meanwhile, as a pod failing its probes would be, and
    // its connections reset: the API server's calls held on them would time out whatever the certificates.
    let frozen: { sharder: SharderProcess; pid: number; until: number } | undefined;
    let thawed: SharderProcess | undefined;
    /** Each distinct state of the Secret: its CAs (by DER) and which of them signed tls.crt. */
    const phases: { cas: string[]; issuer: string | undefined }[] = [];
    let configuredTwo = false;
    const done = (): boolean => {
      const first = phases[0];
      const last = phases.at(-1);
      return (
        first !== undefined &&
        last !== undefined &&
        last.cas.length === 1 &&
        last.cas[0] !== first.cas[0] &&
        last.issuer === last.cas[0]
      );
    };
    const deadline = Date.now() + 90_000;
    for (let i = 0; !done() && Date.now() < deadline; i++) {
      const secret = await rest.request<ISecret>({ path: secretPath(secretName) });
      const cas = pemBlocks(decode(secret.data?.['ca.crt'])).map(({ text }) => new X509Certificate(text));
      const serving = new X509Certificate(decode(secret.data?.['tls.crt']));
      const phase = {
        cas: cas.map((ca) => ca.raw.toString('base64')),
        issuer: cas.find((ca) => serving.checkIssued(ca))?.raw.toString('base64'),
      };
      const previous = phases.at(-1);
      if (previous === undefined || JSON.stringify(previous) !== JSON.stringify(phase)) phases.push(phase);
      if (frozen === undefined && thawed === undefined && phase.cas.length === 2) {
        const holder = await sharderLeader(rest, sharderNamespace);
        const leader = sharders.find(({ identity }) => identity === holder);
        if (leader?.pid === undefined) throw new Error(`no running leader: ${holder}`);
        service?.cut(leader.webhookPort);
        process.kill(leader.pid, 'SIGSTOP');
        frozen = { sharder: leader, pid: leader.pid, until: Date.now() + 6_000 };
      } else if (frozen !== undefined && Date.now() >= frozen.until) {
        process.kill(frozen.pid, 'SIGCONT');
        service?.ports.add(frozen.sharder.webhookPort);
        thawed = frozen.sharder;
        frozen = undefined;
      }

      // Through the API server, which calls the webhook with the caBundle of the configuration.
      const object = await createConfigMap(rest, objects, `rotation-${i}`);
      if (object.metadata.labels?.[shardLabel(ring)] === undefined)
        failures.push(`rotation-${i} was not labelled`);
      // Straight to each replica, trusting only the bundle of the webhook configuration as it is now.
      const configuration = await rest.request<IMutatingWebhookConfiguration>({ path: configurationPath });
      const bundle = decode(configuration.webhooks?.[0]?.clientConfig.caBundle);
      if (pemBlocks(bundle).length === 2) configuredTwo = true;
      for (const sharder of sharders) {
        if (sharder === frozen?.sharder) continue;
        await served(sharder.webhookPort, bundle).catch((error: unknown) => {
          failures.push(`${sharder.identity}: ${(error as Error).message}`);
        });
      }
    }
    expect(failures).toEqual([]);
    expect(done()).toBe(true);
    // The order: [old] signed by old, …, [old, new] signed by old, [old, new] signed by new, [new] signed by new.
    const [old] = phases[0]?.cas ?? [];
    const fresh = phases.at(-1)?.cas[0];
    const shapes = phases.map(
      ({ cas, issuer }) =>
        `${cas.map((ca) => (ca === old ? 'old' : ca === fresh ? 'new' : '?')).join('+')} by ${issuer === old ? 'old' : issuer === fresh ? 'new' : '?'}`,
    );
    expect([...new Set(shapes)]).toEqual(['old by old', 'old+new by old', 'old+new by new', 'new by new']);
    expect(configuredTwo).toBe(true);
    // The other replica led the end of the rotation: it dropped the old CA.
    expect(thawed).toBeDefined();
    const successor = sharders.find((sharder) => sharder !== thawed);
    const rotated = (await readLogEntries(successor?.logPath ?? '')).filter(
      ({ msg }) => msg === 'rotated the webhook certificates',
    );
    expect(rotated.map(({ action }) => action)).toContain('drop-authorities');
  }, 120_000);
});
