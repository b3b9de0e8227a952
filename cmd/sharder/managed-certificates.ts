// The sharder-managed webhook certificates (the default without certificate files): every replica serves the
// Secret's current certificate and follows it with a watch; the Secret is created by whichever replica starts
// first (a create is atomic: the others read the winner's), and rotated by the leader only
// (certificate-rotation.ts). The leader, because it alone writes the webhook configurations whose caBundle the
// rotation waits for: a replica that does not lead cannot tell that its bundle has reached them, and without a
// leader nothing would carry a new CA to them. Its writes carry the read resourceVersion and go through its
// fenced client, so a deposed leader's late write fails instead of overwriting its successor's.
import type { ISecret } from 'kubernetes-models/v1/Secret';
import { errorMessage } from '../../runtime/error-message.ts';
import { FailureLog } from '../../runtime/failure-log.ts';
import { Informer } from '../../runtime/informer.ts';
import type { Logger } from '../../runtime/logger.ts';
import { isAlreadyExists, isConflict, isNotFound, type RestClient } from '../../runtime/rest.ts';
import { systemClock } from '../../runtime/clock.ts';
import { nextRotation } from './certificate-rotation.ts';
import type { ManagedCertificateOptions } from './config.ts';
import type { WebhookCertificates } from './webhook-certificates.ts';
import {
  initialData,
  readSecret,
  rotatedData,
  type ManagedSecret,
  type ServingNames,
} from './webhook-secret.ts';

export interface ManagedCertificatesOptions extends ManagedCertificateOptions {
  rest: RestClient;
  namespace: string;
  names: ServingNames;
  /** How long every webhook configuration must have trusted a new CA before it signs the served certificate. */
  propagationMs: number;
  logger: Logger;
}

const labels = {
  'app.kubernetes.io/part-of': 'controller-rings',
  'app.kubernetes.io/managed-by': 'controller-rings-sharder',
};

export class ManagedCertificates {
  readonly #options: ManagedCertificatesOptions;
  readonly #path: string;
  readonly #secrets: Informer<ISecret>;
  readonly #handlers: ((certificates: WebhookCertificates) => void)[] = [];
  /** Since when every webhook configuration has held each CA of the bundle (this leader's observation). */
  readonly #trustedSince = new Map<string, Date>();
  readonly #failures = new FailureLog(systemClock);
  #current: ManagedSecret | undefined;

  constructor(options: ManagedCertificatesOptions) {
    this.#options = options;
    this.#path = `/api/v1/namespaces/${options.namespace}/secrets`;
    // One Secret, by name: RBAC grants list and watch of it alone with this field selector.
    this.#secrets = new Informer(options.rest, {
      path: this.#path,
      fieldSelector: `metadata.name=${options.name}`,
      logger: options.logger,
    });
    this.#secrets.onEvent(({ type, object }) => {
      if (type !== 'deleted') this.#take(object);
    });
  }

  /** Calls `handler` with the certificates whenever the Secret's change. */
  onChange(handler: (certificates: WebhookCertificates) => void): void {
    this.#handlers.push(handler);
  }

  /** The certificates to serve now; start() first. */
  get current(): WebhookCertificates {
    if (this.#current === undefined) throw new Error('the managed certificates have not started');
    return this.#current.certificates;
  }

  /** Reads the Secret, creating it (or replacing one it cannot serve from) first, and follows its changes. */
  async start(): Promise<WebhookCertificates> {
    const { rest, name, logger } = this.#options;
    for (;;) {
      let secret: ISecret;
      try {
        secret = await rest.request<ISecret>({ path: `${this.#path}/${name}` });
      } catch (error) {
        if (!isNotFound(error)) throw error;
        try {
          secret = await this.#create(rest);
          logger.info({ secret: name }, 'created the webhook certificate Secret');
        } catch (created) {
          // Another replica created it first: use that one.
          if (isAlreadyExists(created)) continue;
          throw created;
        }
      }
      const read = readSecret(secret, this.#options.names);
      if (typeof read !== 'string') {
        this.#current = read;
        break;
      }
      logger.warn(
        { secret: name, problem: read },
        'the webhook certificate Secret is unusable: replacing it',
      );
      try {
        await this.#replace(rest, secret, await initialData(new Date(), this.#options.names, this.#options));
      } catch (error) {
        if (!isConflict(error)) throw error;
      }
    }
    this.#secrets.start();
    await this.#secrets.waitForSync();
    return this.current;
  }

  async stop(): Promise<void> {
    await this.#secrets.stop();
  }

  /**
   * The leader's step of the rotation: one change at a time, written with the read resourceVersion; the next
   * step comes at a later call, from the Secret as the watch shows it then. `trusts(id)`: whether every ring's
   * webhook configuration holds the CA.
   */
  async rotate(rest: RestClient, trusts: (id: string) => boolean, now = new Date()): Promise<void> {
    const { name, logger } = this.#options;
    try {
      const secret = this.#secrets.get(`${this.#options.namespace}/${name}`);
      if (secret === undefined) {
        await this.#create(rest);
        logger.info({ secret: name }, 'created the webhook certificate Secret, which was deleted');
        return;
      }
      const read = readSecret(secret, this.#options.names);
      if (typeof read === 'string') {
        logger.warn(
          { secret: name, problem: read },
          'the webhook certificate Secret is unusable: replacing it',
        );
        await this.#replace(rest, secret, await initialData(now, this.#options.names, this.#options));
        return;
      }
      for (const { id } of read.state.authorities) {
        if (!trusts(id)) this.#trustedSince.delete(id);
        else if (!this.#trustedSince.has(id)) this.#trustedSince.set(id, now);
      }
      const action = nextRotation(now, read.state, (id) => this.#trustedSince.get(id), this.#options);
      if (action.action !== 'keep') {
        await this.#replace(
          rest,
          secret,
          await rotatedData(read, action, now, this.#options.names, this.#options),
        );
        logger.info(
          { secret: name, action: action.action, ...('reason' in action ? { reason: action.reason } : {}) },
          'rotated the webhook certificates',
        );
      }
      this.#failures.succeeded('rotate');
    } catch (error) {
      // Another writer came first (a Secret created meanwhile, a newer version): the next call sees it.
      if (isConflict(error) || isAlreadyExists(error)) {
        logger.debug({ err: error }, 'the webhook certificate Secret changed meanwhile');
        return;
      }
      const what = errorMessage(error);
      logger[this.#failures.level('rotate', 'error', what)](
        { err: error },
        'failed to rotate the webhook certificates; trying again',
      );
    }
  }

  #take(secret: ISecret): void {
    const read = readSecret(secret, this.#options.names);
    if (typeof read === 'string') {
      this.#options.logger.warn(
        { secret: this.#options.name, problem: read },
        'the webhook certificate Secret is unusable: keeping the current certificates',
      );
      return;
    }
    const previous = this.#current?.certificates;
    this.#current = read;
    const next = read.certificates;
    if (
      previous?.certificate !== next.certificate ||
      previous.privateKey !== next.privateKey ||
      previous.caBundle !== next.caBundle
    ) {
      for (const handler of this.#handlers) handler(next);
    }
  }

  async #create(rest: RestClient): Promise<ISecret> {
    const { name, namespace, names } = this.#options;
    return rest.request<ISecret>({
      method: 'POST',
      path: this.#path,
      body: {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name, namespace, labels },
        type: 'kubernetes.io/tls',
        data: await initialData(new Date(), names, this.#options),
      } satisfies ISecret,
    });
  }

  /** Writes `data` over `secret`, if it is still the version read (resourceVersion precondition). */
  async #replace(rest: RestClient, secret: ISecret, data: Record<string, string>): Promise<void> {
    // The type stays: it is immutable, and any type holds these keys.
    await rest.request<ISecret>({
      method: 'PUT',
      path: `${this.#path}/${this.#options.name}`,
      body: { ...secret, data },
    });
  }
}
