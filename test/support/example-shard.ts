// Runs shards of the example controller (examples/configmap-digest/main.ts) as real child processes, or from the
// image as its Deployment runs them, each recording its reconciles (start and end lines) for the invariant
// checks.
import { chmod, chown, copyFile, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '../control-plane/process.ts';
import { ContainerProcess } from './container.ts';
import type { ImagePod } from './image-pods.ts';
import { podmanRunArgs } from './pod-container.ts';
import { freePort } from './ports.ts';
import { httpOk } from './sharder.ts';

const exampleMain = fileURLToPath(new URL('../../examples/configmap-digest/main.ts', import.meta.url));

export interface ExampleShardOptions {
  kubeconfigPath: string;
  ring: string;
  name: string;
  /** Namespace of the shard Lease. */
  namespace: string;
  leaseDurationSeconds: number;
  /** Directory for the log and the record file. */
  dir: string;
  /** More flags of the example, after the harness's own (a flag given again wins: e.g. --log-level=info). */
  args?: string[];
  /** Options of node itself, such as --inspect. */
  nodeArgs?: string[];
}

export interface ExampleShard extends ManagedProcess {
  recordFile: string;
  /** Where it serves /metrics (and its probes) on 127.0.0.1. */
  metricsPort: number;
}

export interface ReconcileLine {
  event: 'start' | 'end';
  object: string;
  shard: string;
  time: number;
  /** On start lines: the version of the object reconciled. */
  resourceVersion?: string;
  /** On end lines: the error the reconcile ended with, and its Kubernetes status reason if it had one. */
  error?: string;
  reason?: string;
}

/** Starts one shard and waits until it has joined the ring (Lease held, caches synced). */
export async function startExampleShard(options: ExampleShardOptions): Promise<ExampleShard> {
  const port = await freePort();
  const recordFile = join(options.dir, `${options.name}.records.jsonl`);
  const shard = new ManagedProcess(
    options.name,
    process.execPath,
    [
      ...(options.nodeArgs ?? []),
      '--conditions=controller-rings-source',
      exampleMain,
      `--kubeconfig=${options.kubeconfigPath}`,
      `--ring=${options.ring}`,
      `--name=${options.name}`,
      `--namespace=${options.namespace}`,
      `--lease-duration=${options.leaseDurationSeconds}`,
      `--metrics-port=${port}`,
      `--record-file=${recordFile}`,
      '--log-format=json',
      '--log-level=debug',
      ...(options.args ?? []),
    ],
    join(options.dir, `${options.name}.log`),
  );
  await joined(shard, port);
  return Object.assign(shard, { recordFile, metricsPort: port });
}

/** Waits until the shard has joined the ring; kills it if it does not. */
async function joined(shard: ManagedProcess, port: number): Promise<void> {
  try {
    await shard.waitUntil(() => httpOk(port, '/readyz'), 30_000);
  } catch (error) {
    await shard.kill();
    throw error;
  }
}

/**
 * Starts one shard from the image, as the example's Deployment runs it (user, read-only root, env, args), and
 * waits until it has joined the ring. Its kubeconfig and its record file's directory (which its user may
 * write, at the same path as on the host) are mounted; its metrics port is a free one on the host network.
 */
export async function startExampleShardContainer(
  options: ExampleShardOptions & { image: string; pod: ImagePod },
): Promise<ContainerProcess & ExampleShard> {
  const port = await freePort();
  const { pod, container } = options.pod;
  const user = pod.securityContext?.runAsUser ?? 0;
  const fsGroup = pod.securityContext?.fsGroup ?? 0;
  const records = join(options.dir, `${options.name}-records`);
  await mkdir(records, { recursive: true });
  await chown(records, user, fsGroup);
  const kubeconfig = join(records, 'kubeconfig');
  await copyFile(options.kubeconfigPath, kubeconfig);
  await chmod(kubeconfig, 0o440);
  await chown(kubeconfig, 0, fsGroup);
  const recordFile = join(records, `${options.name}.records.jsonl`);
  const args = podmanRunArgs({
    pod,
    container,
    identity: { name: options.name, namespace: options.namespace },
    image: options.image,
    flags: {
      ring: options.ring,
      kubeconfig,
      'lease-duration': String(options.leaseDurationSeconds),
      'metrics-port': String(port),
      'record-file': recordFile,
      'log-level': 'debug',
    },
    mounts: [{ host: records, container: records, rw: true }],
  });
  const shard = new ContainerProcess(options.name, args, join(options.dir, `${options.name}.log`));
  await joined(shard, port);
  await shard.started();
  return Object.assign(shard, { recordFile, metricsPort: port });
}

/** The reconcile lines a shard recorded so far (none if it never reconciled). */
export async function readRecords(recordFile: string): Promise<ReconcileLine[]> {
  const text = await readFile(recordFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ReconcileLine);
}
