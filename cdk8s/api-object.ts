// Kubernetes objects typed with kubernetes-models' interfaces, defined as cdk8s ApiObjects.
import { ApiObject } from 'cdk8s';
import type { Construct } from 'constructs';
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

/** An object with its name given: without one cdk8s generates a name with a hash suffix. */
export interface NamedObject {
  apiVersion: string;
  kind: string;
  metadata: IObjectMeta & { name: string };
  /** spec, data, rules...: typed at the call site with `satisfies` and kubernetes-models' interfaces. */
  [field: string]: unknown;
}

export function define(scope: Construct, id: string, object: NamedObject): ApiObject {
  return new ApiObject(scope, id, { ...object });
}
