// How a resource is named to people (messages, metrics labels, kubectl-rings): kubectl's form.

/** kubectl's name of a group/resource: `configmaps` (the core group), `deployments.apps`. */
export function resourceName({
  group,
  resource,
}: {
  readonly group: string;
  readonly resource: string;
}): string {
  return group === '' ? resource : `${resource}.${group}`;
}
