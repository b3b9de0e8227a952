// The YAML parser, loaded only when a file is to be read: it costs a process ~14 MiB of resident memory, which
// a sharder that reads neither a config file nor a kubeconfig file (in-cluster) does without, and the cdk8s
// constructs (the package's `controller-rings/cdk8s`), which check the sharder's flags, would make their
// users install it.
import { createRequire } from 'node:module';

export function yaml(): typeof import('yaml') {
  return createRequire(import.meta.url)('yaml') as typeof import('yaml');
}
