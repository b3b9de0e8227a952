// A stand-in for a shard in sharder tests: it keeps (or stops keeping) a shard Lease the way the shard
// library does, so tests control membership exactly, with short durations.
import type { ILease } from 'kubernetes-models/coordination.k8s.io/v1/Lease';
import { ringLabel } from '../../api/v1alpha1/index.ts';
import { microTime } from '../../runtime/micro-time.ts';
import { isNotFound, type RestClient } from '../../runtime/rest.ts';

export class FakeShard {
  readonly name: string;
  readonly #rest: RestClient;
  readonly #path: string;
  readonly #body: ILease;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    rest: RestClient,
    options: {
      ring: string;
      name: string;
      namespace: string;
      durationSeconds: number;
      /** More labels of the Lease, as the shard library's leaseLabels (e.g. a canary selector's). */
      labels?: Record<string, string>;
    },
  ) {
    this.name = options.name;
    this.#rest = rest;
    this.#path = `/apis/coordination.k8s.io/v1/namespaces/${options.namespace}/leases`;
    const now = microTime(new Date());
    this.#body = {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name: options.name,
        namespace: options.namespace,
        labels: { ...options.labels, [ringLabel]: options.ring },
      },
      spec: {
        holderIdentity: options.name,
        leaseDurationSeconds: options.durationSeconds,
        acquireTime: now,
        renewTime: now,
      },
    };
  }

  /** Creates the Lease (or takes it over) and renews it every third of its duration until stopped. */
  async join(): Promise<void> {
    await this.renew();
    const every = ((this.#body.spec?.leaseDurationSeconds ?? 15) * 1000) / 3;
    this.#timer = setInterval(() => void this.renew().catch(() => undefined), every);
  }

  async renew(): Promise<void> {
    const spec = { ...this.#body.spec, holderIdentity: this.name, renewTime: microTime(new Date()) };
    try {
      const current = await this.#rest.request<ILease>({ path: `${this.#path}/${this.name}` });
      await this.#rest.request({
        method: 'PUT',
        path: `${this.#path}/${this.name}`,
        body: { ...current, spec: { ...current.spec, ...spec } },
      });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      await this.#rest.request({ method: 'POST', path: this.#path, body: { ...this.#body, spec } });
    }
  }

  /** Stops renewing, as a crashed shard would. */
  crash(): void {
    clearInterval(this.#timer);
  }

  /** Stops renewing and releases the Lease (empty holder), as a shard shutting down gracefully does. */
  async leave(): Promise<void> {
    this.crash();
    const current = await this.#rest.request<ILease>({ path: `${this.#path}/${this.name}` });
    await this.#rest.request({
      method: 'PUT',
      path: `${this.#path}/${this.name}`,
      body: { ...current, spec: { ...current.spec, holderIdentity: '' } },
    });
  }
}

/** Joins a FakeShard and adds it to `shards`, the ones the test crashes at its end. */
export async function joinFakeShard(
  rest: RestClient,
  shards: FakeShard[],
  options: ConstructorParameters<typeof FakeShard>[1],
): Promise<FakeShard> {
  const shard = new FakeShard(rest, options);
  await shard.join();
  shards.push(shard);
  return shard;
}
