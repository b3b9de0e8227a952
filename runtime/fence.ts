// A REST client whose writes are fenced by leadership (design.md, "What the sharder must not do"): a
// controller that runs only while its process leads, or a shard's reconcile that runs only while the shard
// holds its Lease, writes through it, so that a process that lost leadership, or that was paused past its renew
// deadline and resumed, writes nothing more. Reads pass: they change nothing.
//
// The fence is checked synchronously right before a write is handed to the transport, with no await between the
// check and the call. What remains is the transport's own path to the socket (credentials, a connection from
// the pool): a process paused on exactly that path sends the write when it resumes. A write that passed the
// check just before the deadline therefore reaches the API server a little after it; the Lease duration's
// margin over the renew deadline covers that, and no other candidate can hold the Lease before it runs out.
import type { KubeConfig } from '@kubernetes/client-node';
import { ExpectedError } from './expected-error.ts';
import type { Fence } from './leader-election.ts';
import { RestClient, type RequestSpec } from './rest.ts';

/**
 * A write the fence refused: leadership is not certain. Not an error of the object: never retry it. Expected:
 * the loss of leadership is logged once where it is noticed, not again by every write it stops.
 */
export class FenceError extends ExpectedError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FenceError';
  }
}

export function isFenced(error: unknown): boolean {
  return error instanceof FenceError;
}

export class FencedClient extends RestClient {
  readonly #fence: Fence;

  constructor(kubeConfig: KubeConfig, userAgent: string, fence: Fence) {
    super(kubeConfig, userAgent);
    this.#fence = fence;
  }

  /**
   * Reads as RestClient does. A write is refused with a FenceError unless the fence is certain at the call,
   * and aborted (its answer no longer awaited, and not sent if it still waits for a connection) when
   * leadership is lost while it is in flight.
   */
  override request<T>(spec: RequestSpec): Promise<T> {
    if ((spec.method ?? 'GET') === 'GET') return super.request(spec);
    const fence = this.#fence;
    if (!fence.certain) {
      return Promise.reject(new FenceError(`${spec.method ?? ''} ${spec.path} refused: ${fence.reason}`));
    }
    const signal = spec.signal === undefined ? fence.lost : AbortSignal.any([spec.signal, fence.lost]);
    return super.request<T>({ ...spec, signal }).catch((error: unknown) => {
      // Aborted by the fence, not by the caller: a refusal too (its answer is not awaited).
      if (fence.lost.aborted && spec.signal?.aborted !== true) {
        throw new FenceError(`${spec.method ?? ''} ${spec.path} aborted: ${fence.reason}`, { cause: error });
      }
      throw error;
    });
  }
}
