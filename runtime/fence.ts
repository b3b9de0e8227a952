// A REST client whose writes are fenced by leadership (design.md, "What the sharder must not do"): a
// controller that runs only while its process leads, or a shard's reconcile that runs only while the shard
// holds its Lease, writes through it, so that a process that lost leadership, or that was paused past its renew
// deadline and resumed, writes nothing more. Reads pass: they change nothing.
//
// The fence is checked at the last moment the client still decides whether to send: when the transport has a
// connection for the write and is about to write it (RestClientOptions.refuseWrite). No wait for credentials
// or a connection lies between the check and the send: the request is written to its socket in the same call
// (HTTP/1.1, runtime/rest.ts). What remains is that call itself: a process paused within it sends the write
// when it resumes. A write that passed the check just before the deadline therefore reaches the API server a
// little after it; the Lease duration's margin over the renew deadline covers that, and no other candidate can
// hold the Lease before it runs out. A write written just before a pause longer than the Lease reaches it only
// after the resume, like a write the network held that long.
import { ExpectedError } from './expected-error.ts';
import type { Fence } from './leader-election.ts';
import { RestClient, type ClusterAccess, type RequestSpec } from './rest.ts';

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

/** A FenceError for a write of `method` to `path` unless `fence` is certain now. */
function refusal(fence: Fence, method: string, path: string): FenceError | undefined {
  return fence.certain ? undefined : new FenceError(`${method} ${path} refused: ${fence.reason}`);
}

export class FencedClient extends RestClient {
  readonly #fence: Fence;

  constructor(kubeConfig: ClusterAccess, userAgent: string, fence: Fence) {
    super(kubeConfig, userAgent, {
      refuseWrite: (method, path) => refusal(fence, method, path),
      abortWrites: fence.lost,
    });
    this.#fence = fence;
  }

  /**
   * Reads as RestClient does. A write is refused with a FenceError unless the fence is certain when it is about
   * to be written, and aborted (its answer no longer awaited) when leadership is lost while it is in flight.
   */
  override request<T>(spec: RequestSpec): Promise<T> {
    const method = spec.method ?? 'GET';
    if (method === 'GET') return super.request(spec);
    // Asked before the work of a request too: a fence lost already refuses at once.
    const fence = this.#fence;
    const refused = refusal(fence, method, spec.path);
    if (refused !== undefined) return Promise.reject(refused);
    return super.request<T>(spec).catch((error: unknown) => {
      // Aborted by the fence, not by the caller: a refusal too (its answer is not awaited).
      if (fence.lost.aborted && spec.signal?.aborted !== true && !isFenced(error)) {
        throw new FenceError(`${method} ${spec.path} aborted: ${fence.reason}`, { cause: error });
      }
      throw error;
    });
  }
}
