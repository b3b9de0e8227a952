// Names and labels the manifests share with the documentation and with users' own RBAC: they are part of the
// deployment's interface, so they are fixed (cdk8s would otherwise add hash suffixes).

/** The sharder runs once per cluster: its objects have fixed names. */
export const sharderName = 'controller-rings-sharder';
export const defaultNamespace = 'controller-rings-system';

/** Labels that select the sharder's pods: a Deployment's selector is immutable, so they never change. */
export const sharderSelector = {
  'app.kubernetes.io/name': 'controller-rings',
  'app.kubernetes.io/component': 'sharder',
} as const;

export const sharderLabels = { ...sharderSelector, 'app.kubernetes.io/part-of': 'controller-rings' } as const;
