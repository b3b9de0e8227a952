// Where an object's Events live, as client-go's recorders put them: in the object's namespace, and for a
// cluster-scoped object (a ControllerRing) in `default`, where `kubectl describe` and `kubectl events` find
// them. A module of its own, without imports, so that the sharder's RBAC (cdk8s/) grants exactly there.

/** The namespace of the Events of cluster-scoped objects. */
export const clusterScopedEventNamespace = 'default';

export function eventNamespace(regarding: { namespace?: string }): string {
  const { namespace } = regarding;
  return namespace === undefined || namespace === '' ? clusterScopedEventNamespace : namespace;
}
