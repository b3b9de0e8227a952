// A container of a synthesized Deployment, run with podman as the kubelet would run it: the pod's user and
// groups, the container's security context (read-only root, no capabilities, no privilege escalation), the env
// with the downward API's values filled in, $(VAR) references in the args expanded, the memory limit and the
// grace period for a stop. What the tests change (addresses, kubeconfig, test flags) they change by flag name,
// so everything else stays the manifest's.
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

export interface PodIdentity {
  name: string;
  namespace: string;
}

/** The value of a downward API field the manifests use; anything else fails, so that a new one is noticed. */
function fieldValue(fieldPath: string, pod: PodIdentity): string {
  if (fieldPath === 'metadata.name') return pod.name;
  if (fieldPath === 'metadata.namespace') return pod.namespace;
  throw new Error(`pod-container: the downward API field ${fieldPath} is not filled in`);
}

/** The container's env as the kubelet sets it, in order. */
export function containerEnv(container: IContainer, pod: PodIdentity): Map<string, string> {
  const env = new Map<string, string>();
  for (const variable of container.env ?? []) {
    const fieldPath = variable.valueFrom?.fieldRef?.fieldPath;
    if (variable.value !== undefined) env.set(variable.name, variable.value);
    else if (fieldPath !== undefined) env.set(variable.name, fieldValue(fieldPath, pod));
    else throw new Error(`pod-container: env ${variable.name} has a source that is not filled in`);
  }
  return env;
}

/** The kubelet's expansion of $(VAR) in command and args: known variables only, $$ for a literal $. */
export function expandReferences(text: string, env: Map<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (match, name: string | undefined) =>
    name === undefined ? '$' : (env.get(name) ?? match),
  );
}

/** A memory quantity (Ki, Mi, Gi or plain bytes) in bytes. */
export function memoryBytes(quantity: string | number): number {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(String(quantity));
  if (match === null) throw new Error(`pod-container: memory quantity ${String(quantity)} is not handled`);
  const unit = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30 }[match[2] ?? ''] ?? 1;
  return Number(match[1]) * unit;
}

/**
 * `args` with the flags named in `flags` (without `--`) set to their values, or removed where the value is
 * undefined; flags the args lack are appended.
 */
export function overrideFlags(args: readonly string[], flags: Record<string, string | undefined>): string[] {
  const name = (arg: string) => (arg.startsWith('--') ? arg.slice(2).split('=')[0] : undefined);
  const kept = args.filter((arg) => !Object.hasOwn(flags, name(arg) ?? ''));
  const set = Object.entries(flags).flatMap(([flag, value]) =>
    value === undefined ? [] : [`--${flag}=${value}`],
  );
  return [...kept, ...set];
}

export interface ContainerRun {
  pod: IPodSpec;
  container: IContainer;
  identity: PodIdentity;
  image: string;
  /** What the test changes in the args, by flag name (see overrideFlags). */
  flags?: Record<string, string | undefined>;
  /** More mounts of the test's own: host path → container path, read-only unless `rw`. */
  mounts?: { host: string; container: string; rw?: boolean }[];
}

/** The arguments of `podman run` after the run flags (runtime, network, ulimits): options, image, args. */
export function podmanRunArgs(run: ContainerRun): string[] {
  const { pod, container } = run;
  const podContext = pod.securityContext ?? {};
  const context = container.securityContext ?? {};
  const user = context.runAsUser ?? podContext.runAsUser;
  const group = context.runAsGroup ?? podContext.runAsGroup;
  const env = containerEnv(container, run.identity);
  const options: string[] = [];
  if (user !== undefined) options.push(`--user=${user}${group === undefined ? '' : `:${group}`}`);
  if (podContext.fsGroup !== undefined) options.push(`--group-add=${podContext.fsGroup}`);
  // No tmpfs on /tmp and /run either: the pod has no volume there.
  if (context.readOnlyRootFilesystem === true) options.push('--read-only', '--read-only-tmpfs=false');
  if (context.allowPrivilegeEscalation === false) options.push('--security-opt=no-new-privileges');
  for (const capability of context.capabilities?.drop ?? []) options.push(`--cap-drop=${capability}`);
  const memory = container.resources?.limits?.memory;
  if (memory !== undefined) options.push(`--memory=${memoryBytes(memory)}`);
  for (const [name, value] of env) options.push(`--env=${name}=${value}`);
  // The project's Deployments mount no volume (the sharder keeps its certificates in a Secret it reads).
  const mounted = container.volumeMounts?.[0];
  if (mounted !== undefined)
    throw new Error(`pod-container: the pod mounts volume ${mounted.name}, which the tests do not provide`);
  for (const mount of run.mounts ?? []) {
    options.push(`--volume=${mount.host}:${mount.container}:${mount.rw === true ? 'rw' : 'ro'}`);
  }
  if (pod.terminationGracePeriodSeconds !== undefined) {
    options.push(`--stop-timeout=${pod.terminationGracePeriodSeconds}`);
  }
  const command = (container.command ?? []).map((part) => expandReferences(part, env));
  if (command.length > 0) options.push(`--entrypoint=${JSON.stringify(command)}`);
  const args = overrideFlags(
    (container.args ?? []).map((arg) => expandReferences(arg, env)),
    run.flags ?? {},
  );
  return [...options, run.image, ...args];
}
