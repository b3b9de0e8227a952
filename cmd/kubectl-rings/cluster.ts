// The API server as kubectl finds it: --kubeconfig, else $KUBECONFIG's files merged, else ~/.kube/config (else
// a pod's service account), with --context choosing another context than the current one.
import { homedir } from 'node:os';
import { loadKubeConfig } from '../../runtime/load-kubeconfig.ts';
import { RestClient } from '../../runtime/rest.ts';
import type { Invocation } from './args.ts';

export async function connect(invocation: Invocation, env: NodeJS.ProcessEnv): Promise<RestClient> {
  const access = await loadKubeConfig({
    flag: invocation.kubeconfig,
    env,
    home: env.HOME ?? homedir(),
    ...(invocation.context === undefined ? {} : { context: invocation.context }),
  });
  return new RestClient(access, 'kubectl-rings');
}
