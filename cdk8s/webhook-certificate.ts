// The webhook's serving certificate, issued by cert-manager from a CA of its own (the Sharder construct's
// `webhookCertificate: { managedBy: 'cert-manager' }`; by default the sharder manages its own): the API server checks the
// certificate against the caBundle the sharder writes into each ring's webhook configuration, which it reads
// from the ca.crt that cert-manager's CA issuer puts into the same Secret (--webhook-ca-file).
import { Construct } from 'constructs';
import { define } from './api-object.ts';
import { sharderLabels } from './names.ts';

export interface WebhookCertificateProps {
  namespace: string;
  /** The Service the API server calls: the certificate's DNS names. */
  serviceName: string;
  /** Receives tls.crt, tls.key and ca.crt. */
  secretName: string;
}

const caName = 'controller-rings-ca';

/** cert-manager Issuers and Certificates (cert-manager.io/v1), all in the sharder's namespace. */
export class WebhookCertificate extends Construct {
  constructor(scope: Construct, id: string, props: WebhookCertificateProps) {
    super(scope, id);
    const { namespace, serviceName, secretName } = props;
    const labels = { ...sharderLabels };
    const issuerRef = (name: string) => ({ name, kind: 'Issuer', group: 'cert-manager.io' });
    const privateKey = { algorithm: 'ECDSA', size: 256, rotationPolicy: 'Always' };

    define(this, 'self-signed-issuer', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: { name: 'controller-rings-selfsigned', namespace, labels },
      spec: { selfSigned: {} },
    });
    // The CA outlives many serving certificates: the caBundle in the webhook configurations stays valid.
    define(this, 'ca-certificate', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: caName, namespace, labels },
      spec: {
        isCA: true,
        commonName: caName,
        secretName: caName,
        duration: '87600h',
        privateKey,
        issuerRef: issuerRef('controller-rings-selfsigned'),
      },
    });
    define(this, 'ca-issuer', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Issuer',
      metadata: { name: caName, namespace, labels },
      spec: { ca: { secretName: caName } },
    });
    // The sharder reads the mounted files again every --webhook-certificate-reload-period: a renewal reaches
    // it within a minute or two of cert-manager's (the kubelet's sync of the volume, then the reload).
    define(this, 'serving-certificate', {
      apiVersion: 'cert-manager.io/v1',
      kind: 'Certificate',
      metadata: { name: serviceName, namespace, labels },
      spec: {
        secretName,
        dnsNames: [
          serviceName,
          `${serviceName}.${namespace}`,
          `${serviceName}.${namespace}.svc`,
          `${serviceName}.${namespace}.svc.cluster.local`,
        ],
        duration: '8760h',
        renewBefore: '720h',
        usages: ['server auth', 'digital signature'],
        privateKey,
        issuerRef: issuerRef(caName),
      },
    });
  }
}
