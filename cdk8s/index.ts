// The constructs users import to deploy controller-rings from their own cdk8s apps.
export { ArgoCdHealthCheck, controllerRingHealthScript, healthCheckKey } from './argocd.ts';
export { ControllerRingCrd } from './controllerring-crd.ts';
export { defaultNamespace, sharderName } from './names.ts';
export {
  ShardedResourceAccess,
  shardedResourceVerbs,
  type GroupResource,
  type ShardedResourceAccessProps,
} from './sharded-resource-access.ts';
export { SharderAdmissionPolicy, type SharderAdmissionPolicyProps } from './sharder-admission-policy.ts';
export { defaultResources, Sharder, type SharderProps } from './sharder.ts';
