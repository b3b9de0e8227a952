// Named liveness and readiness checks, registered by the parts of a process as they start and evaluated when
// the kubelet probes /healthz and /readyz (see MonitoringServer).
import { errorMessage } from './error-message.ts';

/** Passes by returning true; fails by returning false or throwing (the error is the reason, for the log). */
export type Check = () => boolean | Promise<boolean>;

export type Probe = 'healthz' | 'readyz';

export interface CheckStatus {
  name: string;
  /** Why the check failed; undefined if it passed. */
  failure: string | undefined;
}

async function run(name: string, check: Check): Promise<CheckStatus> {
  try {
    return { name, failure: (await check()) ? undefined : 'check returned false' };
  } catch (error) {
    return { name, failure: errorMessage(error) };
  }
}

export class Probes {
  readonly #checks: Record<Probe, Map<string, Check>> = { healthz: new Map(), readyz: new Map() };

  /** Adds a liveness check: the kubelet restarts the container while one fails. */
  addHealthCheck(name: string, check: Check): void {
    this.#add('healthz', name, check);
  }

  /** Adds a readiness check: the Pod receives no Service traffic while one fails. */
  addReadinessCheck(name: string, check: Check): void {
    this.#add('readyz', name, check);
  }

  /** Runs the checks of `probe` at once; statuses in the order the checks were added. */
  check(probe: Probe): Promise<CheckStatus[]> {
    return Promise.all([...this.#checks[probe]].map(([name, check]) => run(name, check)));
  }

  #add(probe: Probe, name: string, check: Check): void {
    const checks = this.#checks[probe];
    // The name is the only thing a probe's response says about a check: two of one name would be ambiguous.
    if (checks.has(name)) throw new Error(`${probe} check ${JSON.stringify(name)} is already added`);
    checks.set(name, check);
  }
}
