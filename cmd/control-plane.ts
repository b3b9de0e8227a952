// The embedded control plane from the command line:
//   npm run control-plane -- up      start one in the background (or find the running one), print its kubeconfig
//   npm run control-plane -- down    stop it and remove its files
//   npm run control-plane -- status  print its kubeconfig, or fail when none runs
import { readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isRunning, startControlPlane, stopSupervisor } from '../test/control-plane/control-plane.ts';

interface State {
  pid: number;
  kubeconfigPath: string;
}

const statePath = join(tmpdir(), 'controller-rings-control-plane.json');
const usage = 'usage: npm run control-plane -- up|down|status';

async function running(): Promise<State | undefined> {
  const state = await readFile(statePath, 'utf8').then(
    (text) => JSON.parse(text) as State,
    () => undefined,
  );
  return state !== undefined && isRunning(state.pid) ? state : undefined;
}

async function up(): Promise<void> {
  const state = (await running()) ?? (await startControlPlane({ detached: true }));
  await writeFile(statePath, JSON.stringify({ pid: state.pid, kubeconfigPath: state.kubeconfigPath }));
  console.log(state.kubeconfigPath);
}

async function down(): Promise<void> {
  const state = await running();
  if (state !== undefined) await stopSupervisor(state.pid);
  await rm(statePath, { force: true });
}

async function status(): Promise<void> {
  const state = await running();
  if (state === undefined) {
    console.error('no control plane is running: start one with npm run control-plane -- up');
    process.exit(1);
  }
  console.log(state.kubeconfigPath);
}

const commands: Record<string, () => Promise<void>> = { up, down, status };
const command = commands[process.argv[2] ?? ''];
if (command === undefined || process.argv.length > 3) {
  console.error(usage);
  process.exit(2);
}
await command();
