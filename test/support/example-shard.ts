// Runs shards of the example controller (examples/configmap-digest/main.ts) as real child processes, each
// recording its reconciles (start and end lines) for the invariant checks.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ManagedProcess } from '../control-plane/process.ts';
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
}

export interface ExampleShard extends ManagedProcess {
  recordFile: string;
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
    ],
    join(options.dir, `${options.name}.log`),
  );
  try {
    await shard.waitUntil(() => httpOk(port, '/readyz'), 30_000);
  } catch (error) {
    await shard.kill();
    throw error;
  }
  return Object.assign(shard, { recordFile });
}

/** The reconcile lines a shard recorded so far (none if it never reconciled). */
export async function readRecords(recordFile: string): Promise<ReconcileLine[]> {
  const text = await readFile(recordFile, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as ReconcileLine);
}
