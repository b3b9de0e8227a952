// A ControllerRing object, typed by the API types generated from crds/, with the sharder's grant on the ring's
// resources. Its shardLeaseNamespaces default to the namespaces of the ring's ShardDeployments: the ring trusts
// the namespaces its shards run in (docs/shard-your-controller.md, "Which shard Leases a ring trusts").
import { Lazy } from 'cdk8s';
import { Construct } from 'constructs';
import {
  apiVersion,
  kind,
  type ControllerRing as ControllerRingObject,
  type ControllerRingSpec,
} from '../api/v1alpha1/index.ts';
import { define } from './api-object.ts';
import { ShardedResourceAccess, type GroupResource } from './sharded-resource-access.ts';

export interface ControllerRingProps extends ControllerRingSpec {
  /** The ring's name (the shards' `ring`); default the construct's id. */
  name?: string;
  labels?: Record<string, string>;
  /**
   * The namespaces whose shard Leases the ring trusts. Default: the namespaces of this ring's ShardDeployments;
   * with none, the API's default ([default]). When given, every ShardDeployment's namespace must be one of them.
   */
  shardLeaseNamespaces?: string[];
  /**
   * The sharder's service account, which is granted get, list and patch on the ring's resources, and watch with
   * `assignment: Watch` (ShardedResourceAccess): the Sharder construct, or its namespace and service account name. Default: as in
   * config/. `false` when that grant is made elsewhere.
   */
  sharder?: { namespace: string; serviceAccountName: string } | false;
}

export class ControllerRing extends Construct {
  readonly name: string;
  /** The ring's resources and their controlled resources, each once. */
  readonly groupResources: readonly GroupResource[];
  readonly #shardLeaseNamespaces: readonly string[] | undefined;
  readonly #shardNamespaces = new Set<string>();

  constructor(scope: Construct, id: string, props: ControllerRingProps) {
    super(scope, id);
    const { name = id, labels, sharder, shardLeaseNamespaces, ...spec } = props;
    this.name = name;
    this.#shardLeaseNamespaces = shardLeaseNamespaces;
    const all = spec.resources.flatMap(({ group = '', resource, controlledResources = [] }) => [
      { group, resource },
      ...controlledResources.map((controlled) => ({
        group: controlled.group ?? '',
        resource: controlled.resource,
      })),
    ]);
    // The CRD rejects a group/resource named twice; here it is only not granted twice.
    this.groupResources = all.filter(
      (candidate, index) =>
        all.findIndex(
          ({ group, resource }) => group === candidate.group && resource === candidate.resource,
        ) === index,
    );
    define(this, 'ring', {
      apiVersion,
      kind,
      metadata: { name, ...(labels === undefined ? {} : { labels }) },
      spec: {
        ...spec,
        // Known once the app has defined its ShardDeployments, which may come after the ring.
        shardLeaseNamespaces:
          shardLeaseNamespaces ??
          (Lazy.any({
            produce: () => (this.#shardNamespaces.size === 0 ? undefined : [...this.#shardNamespaces]),
          }) as string[] | undefined),
      },
    } satisfies ControllerRingObject);
    if (sharder !== false) {
      new ShardedResourceAccess(this, 'sharder-access', {
        resources: this.groupResources,
        watch: spec.assignment === 'Watch',
        name: `controller-rings-sharded-${name}`,
        ...(sharder === undefined ? {} : { sharder }),
      });
    }
  }

  /**
   * Makes the ring trust shard Leases in `namespace`, where shards of it run (ShardDeployment calls this). With
   * shardLeaseNamespaces given, `namespace` must be one of them: the ring would give those shards nothing.
   */
  addShardNamespace(namespace: string): void {
    const trusted = this.#shardLeaseNamespaces;
    if (trusted !== undefined && !trusted.includes(namespace)) {
      throw new Error(
        `ControllerRing ${this.name}: its shardLeaseNamespaces [${trusted.join(', ')}] leave out ${namespace}, ` +
          "where shards of it run: add it, or leave shardLeaseNamespaces out to trust the shards' namespaces",
      );
    }
    this.#shardNamespaces.add(namespace);
  }
}
