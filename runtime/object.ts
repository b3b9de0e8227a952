// The part of a Kubernetes object that the runtime and the shard library read, as a structural type: client-node's
// `KubernetesObject` (V1ObjectMeta, with Date timestamps) and kubernetes-models' objects (IObjectMeta, strings)
// both fit it, so an author's own types pass without conversion.

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata?: ObjectMeta;
}
