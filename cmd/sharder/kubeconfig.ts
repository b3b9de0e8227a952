// The sharder's kubeconfig is found and checked as every program of the repository finds it: the loader moved
// to runtime/load-kubeconfig.ts, for kubectl-rings too. main.ts and the kubeconfig memory benchmark (which
// imports this module in checkouts before and after the move) load it from here.
export { loadKubeConfig, type KubeConfigSources } from '../../runtime/load-kubeconfig.ts';
