// What RBAC cannot say about the sharder's writes, said by the API server itself: ValidatingAdmissionPolicies
// (CEL, built into the API server) that confine its service account to shard Leases and its leader-election
// Lease, and to webhook configurations named for rings that call the sharder for resources granted to it and
// of the ring they are named for. RBAC grants leases and mutatingwebhookconfigurations cluster-wide
// (SharderRbac: shard Leases live anywhere, rings come and go), which alone would let a compromised sharder
// delete the node heartbeats in kube-node-lease or intercept every Secret. The policies match nothing but the
// sharder's own requests.
import { Construct } from 'constructs';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import type { IValidation } from 'kubernetes-models/admissionregistration.k8s.io/v1/Validation';
import type { IVariable } from 'kubernetes-models/admissionregistration.k8s.io/v1/Variable';
import {
  apiVersion,
  defaultShardLeaseNamespaces,
  kind,
  maxRingGroupResources,
  ringLabel,
} from '../api/v1alpha1/index.ts';
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

/**
 * The API server charges 350,000 for each authorizer check and allows 10,000,000 for one evaluation of a
 * policy: 24 checks leave room for its other expressions. One check per validation, so that its message can
 * name the resource (a message cannot ask the authorizer). The CRD keeps rings within it.
 */
export const maxWebhookResources = maxRingGroupResources;

// The configuration's name, labels and webhooks, as the sharder writes them (webhook-configuration.ts): one
// webhook whose rules name one group and one resource each.
function webhookConfigurationVariables(): IVariable[] {
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
    // None when the configuration is deleted.
    { name: 'webhooks', expression: `object != null && has(object.webhooks) ? object.webhooks : []` },
    {
      name: 'rules',
      // Rules of another shape are denied by a validation of their own.
      expression:
        `size(variables.webhooks) == 1 && has(variables.webhooks[0].rules) ? variables.webhooks[0].rules.filter(r, ` +
        `has(r.apiGroups) && size(r.apiGroups) == 1 && has(r.resources) && size(r.resources) == 1) : []`,
    },
  ];
}

function resourceOf(rule: string): string {
  return `(${rule}.apiGroups[0] == '' ? ${rule}.resources[0] : ${rule}.resources[0] + '.' + ${rule}.apiGroups[0])`;
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

/** The start of every message, open inside a CEL string literal. */
const denied = `'the sharder may not write MutatingWebhookConfiguration ' + request.name + ': `;

function webhookConfigurationValidations(props: SharderAdmissionPolicyProps): IValidation[] {
  const prefix = webhookConfigurationName('');
  const clientConfig = props.webhookClientConfig;
  // Inside a single-quoted CEL literal: the URL is the operator's.
  const client = (
    'url' in clientConfig
      ? `${clientConfig.url}${webhookPath('<ring>')}`
      : `Service ${clientConfig.service.namespace}/${clientConfig.service.name}:${clientConfig.service.port} at ${webhookPath('<ring>')}`
  ).replace(/[\\']/g, '\\$&');
  const own = ownPatchableResources();
  const rule = (i: number) => `variables.rules[${i}]`;
  return [
    {
      expression: 'variables.namedForRing',
      messageExpression: `${denied}it writes only those named ${prefix}<ring>'`,
    },
    {
      expression: 'variables.labelled',
      messageExpression: `${denied}it must carry the label ${ringLabel}=' + variables.ring`,
    },
    {
      expression: 'object == null || size(variables.webhooks) == 1',
      messageExpression: `${denied}it must hold exactly one webhook, as the sharder writes it'`,
    },
    {
      expression: `variables.webhooks.all(w, ${callsTheSharder(clientConfig)})`,
      messageExpression: `${denied}its webhook must call the sharder: the ${client}'`,
    },
    {
      expression: `variables.webhooks.all(w, has(w.failurePolicy) && w.failurePolicy == 'Ignore')`,
      messageExpression: `${denied}its webhook must have failurePolicy Ignore, so that it never blocks the API'`,
    },
    {
      // apiVersions '*' is what the sharder writes: every version of the same resource.
      expression:
        `variables.webhooks.all(w, !has(w.rules) || w.rules.all(r, has(r.operations) && r.operations.all(o, o in ['CREATE', 'UPDATE']) && ` +
        `has(r.apiGroups) && size(r.apiGroups) == 1 && r.apiGroups[0] != '*' && ` +
        `has(r.resources) && size(r.resources) == 1 && r.resources[0] != '*' && !r.resources[0].contains('/')))`,
      messageExpression: `${denied}each rule of its webhook must name one group and one resource (no wildcards, no subresources), for CREATE and UPDATE only'`,
    },
    {
      expression: `!variables.rules.exists(r, (r.apiGroups[0] + '/' + r.resources[0]) in ${JSON.stringify(own)})`,
      messageExpression: `${denied}its webhook names resources the sharder may patch for itself (${own.join(', ')}), not for a ring'`,
    },
    {
      expression: `size(variables.rules) <= ${maxWebhookResources}`,
      messageExpression: `${denied}its webhook names ' + string(size(variables.rules)) + ' resources, more than the ${maxWebhookResources} whose grants the API server can check'`,
    },
    // What the platform team granted the sharder for its rings (ShardedResourceAccess): also for a name with
    // no ring, for which the ring policy has no ring to compare with.
    ...Array.from({ length: maxWebhookResources }, (_, i) => ({
      expression: `size(variables.rules) <= ${i} || authorizer.group(${rule(i)}.apiGroups[0]).resource(${rule(i)}.resources[0]).check('patch').allowed()`,
      messageExpression: `${denied}its webhook names ' + ${resourceOf(rule(i))} + ', which its service account may not patch: the sharder intercepts only resources granted to it for rings (ShardedResourceAccess)'`,
    })),
  ].map((validation) => ({ ...validation, ...deny }));
}

function inRing(g: string, x: string): string {
  const groupOf = (entry: string) => `(has(${entry}.group) ? ${entry}.group : '')`;
  return (
    `params.spec.resources.exists(s, (${groupOf('s')} == ${g} && s.resource == ${x}) || ` +
    `(has(s.controlledResources) && s.controlledResources.exists(c, ${groupOf('c')} == ${g} && c.resource == ${x})))`
  );
}

/** Held against every ring: the ring the configuration is named for has all the resources it names. */
function ringResourcesValidations(): IValidation[] {
  return [
    {
      expression: `variables.ring != params.metadata.name || variables.rules.all(r, ${inRing('r.apiGroups[0]', 'r.resources[0]')})`,
      messageExpression: `${denied}its webhook names ' + variables.rules.filter(r, !(${inRing('r.apiGroups[0]', 'r.resources[0]')})).map(r, ${resourceOf('r')}).join(', ') + ', none of ring ' + params.metadata.name + '\\'s resources or controlled resources'`,
      ...deny,
    },
  ];
}

/** Held against every ring: a shard Lease of that ring lives in a namespace the ring trusts. */
function trustedLeaseValidations(): IValidation[] {
  const trusted = `(has(params.spec.shardLeaseNamespaces) ? params.spec.shardLeaseNamespaces : ${JSON.stringify(defaultShardLeaseNamespaces)})`;
  return [
    {
      expression: `variables.ring != params.metadata.name || request.namespace in ${trusted}`,
      messageExpression: `'the sharder may not ' + (request.operation == 'DELETE' ? 'delete' : 'update') + ' shard Lease ' + request.namespace + '/' + request.name + ': ring ' + params.metadata.name + ' does not trust namespace ' + request.namespace + ' (spec.shardLeaseNamespaces)'`,
      ...deny,
    },
  ];
}

export class SharderAdmissionPolicy extends Construct {
  constructor(scope: Construct, id: string, props: SharderAdmissionPolicyProps) {
    super(scope, id);
    const sharder = `system:serviceaccount:${props.namespace}:${props.serviceAccountName}`;
    const onlyTheSharder = [{ name: 'sharder', expression: `request.userInfo.username == ${cel(sharder)}` }];
    const writes = (group: string, resource: string) => ({
      resourceRules: [
        {
          apiGroups: [group],
          apiVersions: ['*'],
          resources: [resource],
          operations: ['CREATE', 'UPDATE', 'DELETE'] as ('CREATE' | 'UPDATE' | 'DELETE')[],
        },
      ],
    });
    const webhookConfigurations = writes('admissionregistration.k8s.io', 'mutatingwebhookconfigurations');

    // Without params, these hold whether rings exist or not (the sharder's leader election runs before any).
    this.#policy('leases', `${sharderName}-leases`, {
      failurePolicy: 'Fail',
      matchConstraints: writes('coordination.k8s.io', 'leases'),
      matchConditions: onlyTheSharder,
      variables: leaseVariables(props),
      validations: leaseValidations(props),
    });
    this.#policy('webhook-configurations', `${sharderName}-webhook-configurations`, {
      failurePolicy: 'Fail',
      matchConstraints: webhookConfigurations,
      matchConditions: onlyTheSharder,
      variables: webhookConfigurationVariables(),
      validations: webhookConfigurationValidations(props),
    });
    // Params: every ControllerRing, each held against the configuration (all must allow it), so that the
    // ring it is named for bounds its resources. With no ring there is no configuration to write
    // (parameterNotFoundAction Deny). Only this check takes params: the rest is evaluated once, not per ring.
    this.#policy(
      'ring-resources',
      `${sharderName}-ring-resources`,
      {
        failurePolicy: 'Fail',
        paramKind: { apiVersion, kind },
        matchConstraints: webhookConfigurations,
        matchConditions: onlyTheSharder,
        variables: webhookConfigurationVariables(),
        validations: ringResourcesValidations(),
      },
      { selector: {}, parameterNotFoundAction: 'Deny' },
    );
    // Params: every ControllerRing, so that the sharder writes a shard Lease only where its ring trusts it.
    // Without rings there are no shards to confine (parameterNotFoundAction Allow): the policy above still holds.
    this.#policy(
      'shard-lease-namespaces',
      `${sharderName}-shard-lease-namespaces`,
      {
        failurePolicy: 'Fail',
        paramKind: { apiVersion, kind },
        matchConstraints: {
          resourceRules: [
            {
              apiGroups: ['coordination.k8s.io'],
              apiVersions: ['*'],
              resources: ['leases'],
              operations: ['UPDATE', 'DELETE'],
            },
          ],
        },
        matchConditions: [
          ...onlyTheSharder,
          { name: 'shard-lease', expression: carriesRingLabel('oldObject') },
        ],
        variables: [{ name: 'ring', expression: `oldObject.metadata.labels[${cel(ringLabel)}]` }],
        validations: trustedLeaseValidations(),
      },
      { selector: {}, parameterNotFoundAction: 'Allow' },
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
