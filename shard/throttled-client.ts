// The client of a shard's reconciles and handovers, with the per-instance request rate limit a real
// controller's client has (client-go's QPS and Burst): with it, one shard's throughput is bounded as a real
// controller's is, and more shards reconcile more at once. The Lease and the watches do not go through it, as in
// client-go, where leader election and informers have clients of their own: a busy shard keeps its Lease.
import type { Fence } from '../runtime/leader-election.ts';
import { FencedClient } from '../runtime/fence.ts';
import type { TokenBucket } from '../runtime/rate-limiter.ts';
import type { ClusterAccess, RequestSpec } from '../runtime/rest.ts';

export interface ClientRateLimit {
  /** Requests per second, sustained. */
  qps: number;
  /** Requests at once after a quiet spell (an integer, at least 1). */
  burst: number;
}

export class ThrottledClient extends FencedClient {
  readonly #bucket: TokenBucket;

  /** `bucket` is the shard's, shared by the clients of its successive Lease terms. */
  constructor(kubeConfig: ClusterAccess, userAgent: string, fence: Fence, bucket: TokenBucket) {
    super(kubeConfig, userAgent, fence);
    this.#bucket = bucket;
  }

  /** Waits for a token (or rejects when `spec.signal` aborts first), then sends as FencedClient does. */
  override async request<T>(spec: RequestSpec): Promise<T> {
    await this.#bucket.take(spec.signal);
    return super.request<T>(spec);
  }
}
