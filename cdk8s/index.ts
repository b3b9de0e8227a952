// The constructs users import to deploy controller-rings from their own cdk8s apps: the sharder's (config/ is
// made of them, its optional monitoring too) and a sharded controller's (its ControllerRing, and the Deployment and RBAC of its shards).
export { ArgoCdHealthCheck, controllerRingHealthScript, healthCheckKey } from './argocd.ts';
export { ControllerRing, type ControllerRingProps } from './controller-ring.ts';
export { ControllerRingCrd } from './controllerring-crd.ts';
export { type AlertingRule, type RuleGroup } from './monitoring-alerts.ts';
export { dashboardJson, SharderMonitoring, type SharderMonitoringProps } from './monitoring.ts';
export { defaultNamespace, sharderName } from './names.ts';
export {
  healthProbes,
  podIdentityEnv,
  restrictedContainerSecurityContext,
  restrictedPodSecurityContext,
} from './pod-conventions.ts';
export { defaultShardResources, ShardDeployment, type ShardDeploymentProps } from './shard-deployment.ts';
export {
  shardClusterRules,
  shardLeaseRules,
  shardLibraryVerbs,
  ShardRbac,
  type Permission,
  type ShardRbacProps,
} from './shard-rbac.ts';
export {
  ShardedResourceAccess,
  shardedResourceVerbs,
  watchAssignmentVerbs,
  type GroupResource,
  type ShardedResourceAccessProps,
} from './sharded-resource-access.ts';
export { SharderAdmissionPolicy, type SharderAdmissionPolicyProps } from './sharder-admission-policy.ts';
export { defaultResources, Sharder, type SharderProps } from './sharder.ts';
