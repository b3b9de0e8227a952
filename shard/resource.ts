// The resources a shard's controllers reconcile, named as in a ControllerRing and resolved by discovery.
import type { Discovery, ResourceInfo } from '../runtime/discovery.ts';
import { resourceName } from '../sharding/resource-name.ts';

/** A resource by API group (empty for the core group) and plural name, as in a ControllerRing. */
export interface GroupResource {
  group: string;
  resource: string;
}

export { resourceName } from '../sharding/resource-name.ts';

/** The served version, kind and scope of `resource`; rejects when the API server does not serve it. */
export async function resolveResource(discovery: Discovery, resource: GroupResource): Promise<ResourceInfo> {
  const info = await discovery.resolve(resource.group, resource.resource);
  if (info === undefined) throw new Error(`the API server does not serve ${resourceName(resource)}`);
  return info;
}
