// What RBAC cannot say about the sharder's writes, said by the API server itself: ValidatingAdmissionPolicies
// (CEL, built into the API server) that confine its service account to shard Leases and its leader-election
// Lease, and to webhook configurations named for rings that call the sharder for their ring's resources only.
// RBAC grants leases and mutatingwebhookconfigurations cluster-wide (SharderRbac: shard Leases live anywhere,
// rings come and go), which alone would let a compromised sharder delete the node heartbeats in
// kube-node-lease or intercept every Secret. The policies match nothing but the sharder's own requests.
import { Construct } from 'constructs';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import type { IValidation } from 'kubernetes-models/admissionregistration.k8s.io/v1/Validation';
import type { IVariable } from 'kubernetes-models/admissionregistration.k8s.io/v1/Variable';
import { apiVersion, kind, ringLabel } from '../api/v1alpha1/index.ts';
import type { SharderConfig } from '../cmd/sharder/config.ts';
import { webhookConfigurationName } from '../controllers/controllerring/webhook-configuration.ts';
import { webhookPath } from '../webhook/path.ts';
import { define } from './api-object.ts';
import { sharderLabels, sharderName } from './names.ts';
import { ownPatchableResources } from './sharder-rbac.ts';

export interface SharderAdmissionPolicyProps {
  namespace: string;
  serviceAccountName: string;
  leaderElectionLeaseName: string;
  /** Where the sharder tells the API server to call its webhook (its --webhook-service or --webhook-url). */
  webhookClientConfig: SharderConfig['webhook']['clientConfig'];
}

/** A CEL string literal (JSON's escapes are CEL's). */
function cel(text: string): string {
  return JSON.stringify(text);
}

/** Namespaces of the cluster's own Leases: node heartbeats, leader election of the control plane. */
const clusterLeaseNamespaces = ['kube-system', 'kube-node-lease'];

function carriesRingLabel(object: 'object' | 'oldObject'): string {
  return `${object} != null && has(${object}.metadata.labels) && ${cel(ringLabel)} in ${object}.metadata.labels`;
}

const deny = { reason: 'Forbidden' } as const;

function leaseVariables(props: SharderAdmissionPolicyProps): IVariable[] {
  return [
    {
      name: 'leaderElectionLease',
      expression: `request.namespace == ${cel(props.namespace)} && request.name == ${cel(props.leaderElectionLeaseName)}`,
    },
    { name: 'lease', expression: `request.namespace + '/' + request.name` },
    { name: 'wasShardLease', expression: carriesRingLabel('oldObject') },
    { name: 'isShardLease', expression: carriesRingLabel('object') },
  ];
}

function leaseValidations(props: SharderAdmissionPolicyProps): IValidation[] {
  const own = `${props.namespace}/${props.leaderElectionLeaseName}`;
  const label = cel(ringLabel);
  return [
    {
      expression: `variables.leaderElectionLease || !(request.namespace in ${JSON.stringify(clusterLeaseNamespaces)})`,
      messageExpression: `'the sharder may not write Lease ' + variables.lease + ': ${clusterLeaseNamespaces.join(' and ')} hold the cluster\\'s own Leases, never shard Leases'`,
      ...deny,
    },
    {
      expression: `variables.leaderElectionLease || request.operation != 'CREATE'`,
      messageExpression: `'the sharder may not create Lease ' + variables.lease + ': it creates only its leader-election Lease ${own}; shards create their own Leases'`,
      ...deny,
    },
    {
      // Updates and deletes: the Lease as it is must be a shard Lease, so that labelling a foreign Lease is
      // no way to take it over.
      expression: `variables.leaderElectionLease || request.operation == 'CREATE' || variables.wasShardLease`,
      messageExpression: `'the sharder may not ' + (request.operation == 'DELETE' ? 'delete' : 'update') + ' Lease ' + variables.lease + ': it has no label ${ringLabel}, and the sharder writes only shard Leases and its leader-election Lease ${own}'`,
      ...deny,
    },
    {
      expression:
        `variables.leaderElectionLease || request.operation != 'UPDATE' || !variables.wasShardLease || ` +
        `(variables.isShardLease && object.metadata.labels[${label}] == oldObject.metadata.labels[${label}])`,
      messageExpression: `'the sharder may not remove or change the label ${ringLabel} of shard Lease ' + variables.lease + ': it keeps a shard Lease in its ring'`,
      ...deny,
    },
  ];
}

/** Whether webhook `w` calls the sharder at `ring`'s path, and nothing else. */
function callsTheSharder(clientConfig: SharderAdmissionPolicyProps['webhookClientConfig']): string {
  const path = `${cel(webhookPath(''))} + variables.ring`;
  if ('url' in clientConfig) {
    return `has(w.clientConfig.url) && !has(w.clientConfig.service) && w.clientConfig.url == ${cel(clientConfig.url)} + ${path}`;
  }
  const { namespace, name, port } = clientConfig.service;
  const service = 'w.clientConfig.service';
  return [
    `has(${service}) && !has(w.clientConfig.url)`,
    `${service}.namespace == ${cel(namespace)} && ${service}.name == ${cel(name)}`,
    // The API server's default port.
    `(has(${service}.port) ? ${service}.port : 443) == ${port}`,
    `has(${service}.path) && ${service}.path == ${path}`,
  ].join(' && ');
}

/** Whether some group/resource `g`/`x` of webhook `w`'s rules fails `condition`. */
function someResource(condition: string): string {
  return `has(w.rules) && w.rules.exists(r, has(r.apiGroups) && has(r.resources) && r.apiGroups.exists(g, r.resources.exists(x, !(${condition}))))`;
}

/** Webhooks of the configuration (none when it is deleted) for which `condition` holds, by name. */
function webhooks(condition: string): string {
  return `variables.webhooks.filter(w, ${condition}).map(w, w.name)`;
}

function inRing(resource: string): string {
  const groupOf = (entry: string) => `(has(${entry}.group) ? ${entry}.group : '')`;
  return (
    `params.spec.resources.exists(${resource}, (${groupOf(resource)} == g && ${resource}.resource == x) || ` +
    `(has(${resource}.controlledResources) && ${resource}.controlledResources.exists(c, ${groupOf('c')} == g && c.resource == x)))`
  );
}

function webhookConfigurationVariables(props: SharderAdmissionPolicyProps): IVariable[] {
  const prefix = webhookConfigurationName('');
  const labelled = (object: 'object' | 'oldObject') =>
    `(${object} == null || (has(${object}.metadata.labels) && ${cel(ringLabel)} in ${object}.metadata.labels && ${object}.metadata.labels[${cel(ringLabel)}] == variables.ring))`;
  return [
    {
      name: 'ring',
      expression: `request.name.startsWith(${cel(prefix)}) ? request.name.substring(${prefix.length}) : ''`,
    },
    // A ring's name is a DNS-1123 label (design.md, "Parts").
    { name: 'namedForRing', expression: `variables.ring.matches('^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$')` },
    { name: 'labelled', expression: `${labelled('object')} && ${labelled('oldObject')}` },
    { name: 'webhooks', expression: `object != null && has(object.webhooks) ? object.webhooks : []` },
    {
      name: 'foreignClients',
      expression: webhooks(`!(${callsTheSharder(props.webhookClientConfig)})`),
    },
    {
      // The sharder's rules name one group and resource each, for CREATE and UPDATE. apiVersions '*' is what
      // it writes: every version of the same resource.
      name: 'broadRules',
      expression: webhooks(
        `has(w.rules) && w.rules.exists(r, !has(r.operations) || !r.operations.all(o, o in ['CREATE', 'UPDATE']) || ` +
          `!has(r.apiGroups) || r.apiGroups.exists(g, g == '*') || ` +
          `!has(r.resources) || r.resources.exists(x, x == '*' || x.contains('/')))`,
      ),
    },
    {
      name: 'failingClosed',
      expression: webhooks(`!has(w.failurePolicy) || w.failurePolicy != 'Ignore'`),
    },
    {
      name: 'ruleResources',
      expression:
        `variables.webhooks.filter(w, has(w.rules)).map(w, w.rules.filter(r, has(r.apiGroups) && has(r.resources))` +
        `.map(r, r.apiGroups.map(g, r.resources.map(x, g == '' ? x : x + '.' + g).join(', ')).join(', ')).join(', '))`,
    },
    {
      name: 'ownResources',
      expression: webhooks(someResource(`!((g + '/' + x) in ${JSON.stringify(ownPatchableResources())})`)),
    },
    {
      // What the platform team granted the sharder for its rings (ShardedResourceAccess): also for a name
      // with no ring, which no param below speaks for.
      name: 'ungranted',
      expression: webhooks(someResource(`authorizer.group(g).resource(x).check('patch').allowed()`)),
    },
    {
      // Evaluated once per ring (the binding selects all of them): the ring the configuration is named for.
      name: 'outsideRing',
      expression: `variables.ring != params.metadata.name ? [] : ${webhooks(someResource(inRing('s')))}`,
    },
  ];
}

function webhookConfigurationValidations(props: SharderAdmissionPolicyProps): IValidation[] {
  const prefix = webhookConfigurationName('');
  // The start of every message, and the webhooks a check names, inside one CEL string literal.
  const denied = `'the sharder may not write MutatingWebhookConfiguration ' + request.name + ': `;
  const webhook = (variable: string) => `webhook ' + variables.${variable}.join(', ') + ' `;
  const clientConfig = props.webhookClientConfig;
  // Inside a single-quoted CEL literal: the URL is the operator's.
  const client = (
    'url' in clientConfig
      ? `${clientConfig.url}${webhookPath('<ring>')}`
      : `Service ${clientConfig.service.namespace}/${clientConfig.service.name}:${clientConfig.service.port} at ${webhookPath('<ring>')}`
  ).replace(/[\\']/g, '\\$&');
  return [
    {
      expression: 'variables.namedForRing',
      messageExpression: `${denied}it writes only those named ${prefix}<ring>'`,
      ...deny,
    },
    {
      expression: 'variables.labelled',
      messageExpression: `${denied}it must carry the label ${ringLabel}=' + variables.ring`,
      ...deny,
    },
    {
      expression: 'size(variables.foreignClients) == 0',
      messageExpression: `${denied}${webhook('foreignClients')}must call the sharder: the ${client}'`,
      ...deny,
    },
    {
      expression: 'size(variables.broadRules) == 0',
      messageExpression: `${denied}${webhook('broadRules')}may name only CREATE and UPDATE of resources: no wildcards, no subresources'`,
      ...deny,
    },
    {
      expression: 'size(variables.failingClosed) == 0',
      messageExpression: `${denied}${webhook('failingClosed')}must have failurePolicy Ignore, so that it never blocks the API'`,
      ...deny,
    },
    {
      expression: 'size(variables.outsideRing) == 0',
      messageExpression: `${denied}${webhook('outsideRing')}names a resource that is none of ring ' + params.metadata.name + '\\'s resources or controlled resources'`,
      ...deny,
    },
    {
      expression: 'size(variables.ownResources) == 0',
      messageExpression: `${denied}${webhook('ownResources')}names resources the sharder may patch for itself (${ownPatchableResources().join(', ')}), not for a ring'`,
      ...deny,
    },
    {
      // A message cannot ask the authorizer (messageExpression has none): it names all the rules' resources.
      expression: 'size(variables.ungranted) == 0',
      messageExpression: `${denied}its webhooks name ' + variables.ruleResources.join(', ') + ', and the sharder intercepts only resources its service account may patch, as granted for rings (ShardedResourceAccess)'`,
      ...deny,
    },
  ];
}

export class SharderAdmissionPolicy extends Construct {
  readonly leasePolicyName = `${sharderName}-leases`;
  readonly webhookConfigurationPolicyName = `${sharderName}-webhook-configurations`;

  constructor(scope: Construct, id: string, props: SharderAdmissionPolicyProps) {
    super(scope, id);
    const sharder = `system:serviceaccount:${props.namespace}:${props.serviceAccountName}`;
    const onlyTheSharder = [{ name: 'sharder', expression: `request.userInfo.username == ${cel(sharder)}` }];
    const writes: ('CREATE' | 'UPDATE' | 'DELETE')[] = ['CREATE', 'UPDATE', 'DELETE'];

    // No params: it holds whether rings exist or not, and the sharder's leader election runs before any.
    this.#policy('leases', this.leasePolicyName, {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: ['coordination.k8s.io'],
            apiVersions: ['*'],
            resources: ['leases'],
            operations: writes,
          },
        ],
      },
      matchConditions: onlyTheSharder,
      variables: leaseVariables(props),
      validations: leaseValidations(props),
    });

    // Params: every ControllerRing, so that a configuration is held against the ring it is named for. With
    // no ring at all there is no configuration to write (parameterNotFoundAction Deny).
    this.#policy(
      'webhook-configurations',
      this.webhookConfigurationPolicyName,
      {
        failurePolicy: 'Fail',
        paramKind: { apiVersion, kind },
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['admissionregistration.k8s.io'],
              apiVersions: ['*'],
              resources: ['mutatingwebhookconfigurations'],
              operations: writes,
            },
          ],
        },
        matchConditions: onlyTheSharder,
        variables: webhookConfigurationVariables(props),
        validations: webhookConfigurationValidations(props),
      },
      { selector: {}, parameterNotFoundAction: 'Deny' },
    );
  }

  #policy(
    id: string,
    name: string,
    spec: NonNullable<IValidatingAdmissionPolicy['spec']>,
    paramRef?: NonNullable<IValidatingAdmissionPolicyBinding['spec']>['paramRef'],
  ): void {
    const labels = { ...sharderLabels };
    define(this, `${id}-policy`, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name, labels },
      spec,
    } satisfies IValidatingAdmissionPolicy);
    define(this, `${id}-binding`, {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name, labels },
      spec: {
        policyName: name,
        validationActions: ['Deny'],
        ...(paramRef === undefined ? {} : { paramRef }),
      },
    } satisfies IValidatingAdmissionPolicyBinding);
  }
}
