// The shape of the sharder's admission policies: what they match and how they are bound. What they allow and
// deny is judged by a real API server (test/integration/sharder-rbac.test.ts), not by reading CEL here.
import { describe, expect, it } from '@jest/globals';
import { App, Chart } from 'cdk8s';
import type { IValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import type { IValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import {
  maxWebhookResources,
  SharderAdmissionPolicy,
  type SharderAdmissionPolicyProps,
} from './sharder-admission-policy.ts';
import { Sharder } from './sharder.ts';

type Policy = IValidatingAdmissionPolicy & { metadata: { name: string } };
type Binding = IValidatingAdmissionPolicyBinding & { metadata: { name: string } };

function policies(objects: unknown[]): { policies: Policy[]; bindings: Binding[] } {
  const typed = objects as { kind: string }[];
  return {
    policies: typed.filter((o) => o.kind === 'ValidatingAdmissionPolicy') as unknown as Policy[],
    bindings: typed.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding') as unknown as Binding[],
  };
}

function synth(props: SharderAdmissionPolicyProps): { policies: Policy[]; bindings: Binding[] } {
  const chart = new Chart(new App(), 'test');
  new SharderAdmissionPolicy(chart, 'policy', props);
  return policies(chart.toJson() as unknown[]);
}

const props: SharderAdmissionPolicyProps = {
  namespace: 'controller-rings-system',
  serviceAccountName: 'controller-rings-sharder',
  leaderElectionLeaseName: 'controller-rings-sharder',
  webhookClientConfig: {
    service: { namespace: 'controller-rings-system', name: 'controller-rings-sharder-webhook', port: 443 },
  },
};

/** Every CEL expression of a policy, as one text. */
function expressions(policy: Policy): string {
  const spec = policy.spec ?? {};
  return [...(spec.variables ?? []), ...(spec.validations ?? [])].map((v) => v.expression).join('\n');
}

describe('SharderAdmissionPolicy', () => {
  it("matches the sharder's service account's writes of Leases and of webhook configurations, nothing else", () => {
    const {
      policies: [leases, webhooks, rings],
    } = synth(props);
    for (const policy of [leases, webhooks, rings]) {
      expect(policy?.spec?.matchConditions).toEqual([
        {
          name: 'sharder',
          expression:
            'request.userInfo.username == "system:serviceaccount:controller-rings-system:controller-rings-sharder"',
        },
      ]);
      expect(policy?.spec?.failurePolicy).toBe('Fail');
    }
    expect(leases?.metadata.name).toBe('controller-rings-sharder-leases');
    expect(leases?.spec?.matchConstraints?.resourceRules).toEqual([
      {
        apiGroups: ['coordination.k8s.io'],
        apiVersions: ['*'],
        resources: ['leases'],
        operations: ['CREATE', 'UPDATE', 'DELETE'],
      },
    ]);
    expect(webhooks?.metadata.name).toBe('controller-rings-sharder-webhook-configurations');
    expect(rings?.metadata.name).toBe('controller-rings-sharder-ring-resources');
    for (const policy of [webhooks, rings]) {
      expect(policy?.spec?.matchConstraints?.resourceRules).toEqual([
        {
          apiGroups: ['admissionregistration.k8s.io'],
          apiVersions: ['*'],
          resources: ['mutatingwebhookconfigurations'],
          operations: ['CREATE', 'UPDATE', 'DELETE'],
        },
      ]);
    }
  });

  it('holds writes without params, and webhook configurations and shard Leases also against every ring, denying', () => {
    const {
      policies: [leases, webhooks, rings, leaseNamespaces],
      bindings,
    } = synth(props);
    expect(leases?.spec?.paramKind).toBeUndefined();
    expect(webhooks?.spec?.paramKind).toBeUndefined();
    for (const policy of [rings, leaseNamespaces]) {
      expect(policy?.spec?.paramKind).toEqual({
        apiVersion: 'sharding.controller-rings.io/v1alpha1',
        kind: 'ControllerRing',
      });
    }
    expect(bindings.map((binding) => [binding.metadata.name, binding.spec])).toEqual([
      [
        'controller-rings-sharder-leases',
        { policyName: 'controller-rings-sharder-leases', validationActions: ['Deny'] },
      ],
      [
        'controller-rings-sharder-webhook-configurations',
        { policyName: 'controller-rings-sharder-webhook-configurations', validationActions: ['Deny'] },
      ],
      [
        'controller-rings-sharder-ring-resources',
        {
          policyName: 'controller-rings-sharder-ring-resources',
          validationActions: ['Deny'],
          paramRef: { selector: {}, parameterNotFoundAction: 'Deny' },
        },
      ],
      [
        'controller-rings-sharder-shard-lease-namespaces',
        {
          policyName: 'controller-rings-sharder-shard-lease-namespaces',
          validationActions: ['Deny'],
          paramRef: { selector: {}, parameterNotFoundAction: 'Allow' },
        },
      ],
    ]);
    const validations = [leases, webhooks, rings, leaseNamespaces].flatMap(
      (policy) => policy?.spec?.validations ?? [],
    );
    for (const validation of validations) {
      expect(validation).toMatchObject({ reason: 'Forbidden', messageExpression: expect.any(String) });
    }
  });

  it('asks the authorizer about every resource a webhook configuration may name, one by one', () => {
    const {
      policies: [, webhooks],
    } = synth(props);
    const checks = (webhooks?.spec?.validations ?? []).filter((v) => v.expression.includes('authorizer.'));
    expect(checks.map((v) => v.expression)).toEqual(
      Array.from(
        { length: maxWebhookResources },
        (_, i) =>
          `size(variables.rules) <= ${i} || authorizer.group(variables.rules[${i}].apiGroups[0]).resource(variables.rules[${i}].resources[0]).check('patch').allowed()`,
      ),
    );
    expect(expressions(webhooks as Policy)).toContain(`size(variables.rules) <= ${maxWebhookResources}`);
  });

  it("lets webhooks call the sharder's Service, or its URL when it is run with --webhook-url", () => {
    const {
      policies: [, service],
    } = synth(props);
    expect(service && expressions(service)).toContain(
      'w.clientConfig.service.namespace == "controller-rings-system" && w.clientConfig.service.name == "controller-rings-sharder-webhook"',
    );
    expect(service && expressions(service)).not.toContain('w.clientConfig.url ==');
    const {
      policies: [, url],
    } = synth({
      ...props,
      webhookClientConfig: { url: 'https://127.0.0.1:9443' },
    });
    expect(url && expressions(url)).toContain(
      'w.clientConfig.url == "https://127.0.0.1:9443" + "/webhooks/sharder/controllerring/" + variables.ring',
    );
  });

  it("follows the Sharder construct's namespace, Service and leader-election Lease", () => {
    const chart = new Chart(new App(), 'test');
    new Sharder(chart, 'sharder', { image: 'example.com/sharder:1', namespace: 'sharding' });
    const {
      policies: [leases, webhooks],
    } = policies(chart.toJson() as unknown[]);
    expect(leases?.spec?.matchConditions?.[0]?.expression).toContain(
      '"system:serviceaccount:sharding:controller-rings-sharder"',
    );
    expect(leases && expressions(leases)).toContain(
      'request.namespace == "sharding" && request.name == "controller-rings-sharder"',
    );
    expect(webhooks && expressions(webhooks)).toContain(
      'w.clientConfig.service.namespace == "sharding" && w.clientConfig.service.name == "controller-rings-sharder-webhook"',
    );
  });
});
