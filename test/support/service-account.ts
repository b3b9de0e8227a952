// Credentials of a service account, for tests that run a program or send requests with nothing but the
// permissions its manifests grant: a token from the TokenRequest API, in a kubeconfig for the admin's server.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { RestClient } from '../../runtime/rest.ts';
import { kubeconfigDocument } from './kube.ts';

export interface ServiceAccountRef {
  namespace: string;
  name: string;
}

/** Writes `<dir>/<namespace>.<name>.kubeconfig` (valid for an hour) and returns its path. */
export async function serviceAccountKubeconfig(
  admin: KubeConfig,
  { namespace, name }: ServiceAccountRef,
  dir: string,
): Promise<string> {
  const rest = new RestClient(admin);
  try {
    const request = await rest.request<{ status: { token: string } }>({
      method: 'POST',
      path: `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`,
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      },
    });
    const cluster = admin.getCurrentCluster();
    if (cluster === null) throw new Error('the admin kubeconfig has no current cluster');
    const kubeconfig = kubeconfigDocument(
      {
        server: cluster.server,
        ...(cluster.caData === undefined ? {} : { 'certificate-authority-data': cluster.caData }),
        ...(cluster.caFile === undefined ? {} : { 'certificate-authority': cluster.caFile }),
      },
      name,
      { token: request.status.token },
    );
    const path = join(dir, `${namespace}.${name}.kubeconfig`);
    await writeFile(path, JSON.stringify(kubeconfig), { mode: 0o600 });
    return path;
  } finally {
    rest.close();
  }
}
