// What a shard (a Shard or a ShardAdapter) holds to the API server: its client, discovery, logger and its
// Lease (design.md, "Parts"), named for the shard, labelled with the ring, and renewed well inside its
// duration, like client-go's defaults (15 s / 10 s / 2 s).
import type { KubeConfig } from '@kubernetes/client-node';
import { defaultLeaseDurationSeconds, ringLabel } from '../api/v1alpha1/index.ts';
import { Discovery } from '../runtime/discovery.ts';
import { LeaderElector } from '../runtime/leader-election.ts';
import { serializers, type Logger } from '../runtime/logger.ts';
import type { Metrics } from '../runtime/metrics.ts';
import { RestClient } from '../runtime/rest.ts';

export interface ShardIdentity {
  ring: string;
  /** This shard's name: its Lease's name and holder, and the value of the shard label on its objects. */
  name: string;
  /** Namespace of the shard Lease. */
  namespace: string;
  /** Default 15 s; the Lease is renewed well inside it. */
  leaseDurationSeconds?: number;
  /**
   * More labels for the shard Lease, set at every renewal, e.g. `{ 'app.kubernetes.io/version': 'v2' }` for a
   * ring whose spec.canary.shardSelector selects the shards of a new version. Put the version in the value: a
   * Lease keeps labels it no longer gets, so a shard restarted under the same name with another version
   * overwrites the value, but would not remove a key. Keys under controller-rings.io/ are the protocol's.
   */
  leaseLabels?: Readonly<Record<string, string>>;
}

export interface ShardConnectionOptions extends ShardIdentity {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** Where the Lease's leader_election_master_status is reported. */
  metrics: Metrics;
}

export interface ShardConnection {
  /** Named for the ring and the shard, so that the API server's audit log tells shards apart. */
  userAgent: string;
  /** Informers, discovery and the Lease; a shard's writes to objects go through a client fenced by the Lease. */
  rest: RestClient;
  discovery: Discovery;
  /** Names ring and shard, and writes errors compactly, whichever logger the author passed. */
  logger: Logger;
  elector: LeaderElector;
}

export function connectShard(options: ShardConnectionOptions): ShardConnection {
  const protocol = Object.keys(options.leaseLabels ?? {}).filter((key) => key.startsWith(protocolPrefix));
  if (protocol.length > 0) {
    throw new Error(
      `leaseLabels: ${protocol.join(', ')}: labels under ${protocolPrefix} are set by the shard library and the sharder; use a label of your own`,
    );
  }
  const userAgent = `controller-rings-shard/${options.ring}/${options.name}`;
  const rest = new RestClient(options.kubeConfig, userAgent);
  const logger = options.logger.child({ ring: options.ring, shard: options.name }, { serializers });
  const elector = shardLeaseElector(rest, options, logger, options.metrics);
  return { userAgent, rest, discovery: new Discovery(rest), logger, elector };
}

/** The prefix of the Lease labels of the protocol (the ring, the state). */
const protocolPrefix = 'controller-rings.io/';

/** The elector that keeps `shard`'s Lease; `logger` names ring and shard. */
function shardLeaseElector(
  rest: RestClient,
  shard: ShardIdentity,
  logger: Logger,
  metrics: Metrics,
): LeaderElector {
  const leaseDurationSeconds = shard.leaseDurationSeconds ?? defaultLeaseDurationSeconds;
  return new LeaderElector(rest, {
    namespace: shard.namespace,
    name: shard.name,
    identity: shard.name,
    leaseDurationSeconds,
    renewDeadlineMs: Math.round((leaseDurationSeconds * 1000 * 2) / 3),
    retryPeriodMs: Math.round((leaseDurationSeconds * 1000) / 7.5),
    labels: { ...shard.leaseLabels, [ringLabel]: shard.ring },
    metrics: metrics.leaderElectionMetrics(shard.name),
    logger: logger.child({ component: 'lease' }),
  });
}
