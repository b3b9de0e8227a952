/* Generated from crds/sharding.controller-rings.io_controllerrings.yaml by `npm run generate`. Do not edit. */
import type {IObjectMeta} from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

/**
 * A ControllerRing declares one ring of a sharded controller: which resources are sharded across the ring's shards and, optionally, in which namespaces.
 */
export interface ControllerRing {
  apiVersion?: string;
  kind?: string;
  metadata?: IObjectMeta;
  spec: ControllerRingSpec;
  status?: ControllerRingStatus;
}
/**
 * What the ring shards.
 */
export interface ControllerRingSpec {
  /**
   * The resources whose objects are assigned to the ring's shards. Each group/resource may appear only once in the ring, as a resource or as a controlled resource.
   *
   * @minItems 1
   * @maxItems 16
   */
  resources: RingResource[];
  /**
   * The namespaces whose shard Leases the ring trusts: a Lease labelled controller-rings.io/ring=<ring> in any other namespace is ignored, so that whoever may create a Lease there cannot attract the ring's objects. List the namespaces your shards run in. Default: [default].
   *
   * @minItems 1
   * @maxItems 16
   */
  shardLeaseNamespaces?: string[];
  /**
   * How the sharder assigns the ring's new and handed-over objects to shards. Webhook (the default): a mutating admission webhook labels them as they are written; the API server must reach the sharder. Watch: the sharder watches the ring's objects that carry no shard label (metadata only) and labels them right after they are written, with no webhook; for clusters whose API server cannot reach the sharder. Objects are then unassigned for a moment after each write, and the sharder needs watch on the ring's resources too.
   */
  assignment?: 'Webhook' | 'Watch';
  canary?: CanarySpec;
  namespaceSelector?: NamespaceSelector;
}
/**
 * A resource sharded by the ring, and the resources its objects control.
 */
export interface RingResource {
  /**
   * The API group of the resource; empty for the core group.
   */
  group?: string;
  /**
   * The resource's plural, lowercase name, e.g. 'configmaps' or 'deployments'.
   */
  resource: string;
  /**
   * Resources whose objects are controlled by objects of this resource (through a controller ownerReference), or by objects of another of these controlledResources (owner): they are assigned to the shard of the ring resource's object at the root of their chain of controllers, at most 3 levels below it.
   *
   * @maxItems 16
   */
  controlledResources?: ControlledResource[];
}
/**
 * A resource whose objects follow the shard of their controller.
 */
export interface ControlledResource {
  /**
   * The API group of the resource; empty for the core group.
   */
  group?: string;
  /**
   * The resource's plural, lowercase name, e.g. 'secrets'.
   */
  resource: string;
  owner?: OwnerResource;
}
/**
 * The resource whose objects control this resource's objects, when that is another of these controlledResources, for chains such as Deployment → ReplicaSet → Pod (pods' owner: group apps, resource replicasets). Default: the ring resource.
 */
export interface OwnerResource {
  /**
   * The API group of the owner's resource; empty for the core group.
   */
  group?: string;
  /**
   * The owner's resource, plural and lowercase, e.g. 'replicasets'.
   */
  resource: string;
}
/**
 * Sends a share of the ring's objects to its canary shards (those whose Lease matches shardSelector, e.g. shards running a new version of the controller) and the rest to the other, stable shards. Which side an object is on depends only on its hash key and percent, so changing percent moves only the objects whose side changed, each through the normal drain. When one side has no available shard, its objects go to the other side's shards.
 */
export interface CanarySpec {
  shardSelector: ShardSelector;
  /**
   * The percent of the ring's objects (by hash key) assigned to the canary shards, 0 to 100. Default 0: the canary shards get objects only when no stable shard is available.
   */
  percent?: number;
}
/**
 * Selects the canary shards by the labels of their shard Leases (a shard sets them, e.g. the shard library's leaseLabels). Must not be empty, and must not select on controller-rings.io/ labels, which the protocol sets.
 */
export interface ShardSelector {
  matchLabels?: {
    [k: string]: string;
  };
  /**
   * @maxItems 16
   */
  matchExpressions?: ShardSelectorRequirement[];
}
export interface ShardSelectorRequirement {
  key: string;
  /**
   * One of In, NotIn, Exists, DoesNotExist.
   */
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /**
   * @maxItems 64
   */
  values?: string[];
}
/**
 * Selects the namespaces whose objects the ring shards. Default: all namespaces but kube-system and the sharder's own namespace.
 */
export interface NamespaceSelector {
  matchLabels?: {
    [k: string]: string;
  };
  /**
   * @maxItems 32
   */
  matchExpressions?: NamespaceSelectorRequirement[];
}
export interface NamespaceSelectorRequirement {
  key: string;
  /**
   * One of In, NotIn, Exists, DoesNotExist.
   */
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  /**
   * @maxItems 64
   */
  values?: string[];
}
/**
 * The ring's observed state, written by the sharder.
 */
export interface ControllerRingStatus {
  /**
   * The metadata.generation this status describes.
   */
  observedGeneration?: number;
  /**
   * The number of shards of the ring, whatever their state: Leases in a trusted namespace whose names are valid label values and unique in the ring.
   */
  shards?: number;
  /**
   * The number of shards that objects may be assigned to (ready, expired or uncertain).
   */
  availableShards?: number;
  /**
   * The number of the ring's shards whose Lease matches spec.canary.shardSelector, whatever their state; 0 without spec.canary.
   */
  canaryShards?: number;
  /**
   * The number of those canary shards that objects may be assigned to.
   */
  availableCanaryShards?: number;
  /**
   * The ring's conditions; Ready tells whether the ring assigns objects to shards; ChainsResolved, on a ring with chains of controllers, whether the last sync followed every object of them to its root.
   *
   * @maxItems 8
   */
  conditions?: Condition[];
}
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}
