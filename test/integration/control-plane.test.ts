// The embedded control plane behaves like a cluster where the tests need it to (garbage collection, namespace
// deletion), and leaves no process or directory behind when its caller dies.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { ApiException, CoreV1Api } from '@kubernetes/client-node';
import { isRunning } from '../control-plane/control-plane.ts';
import { eventually } from '../support/eventually.ts';
import { testKubeConfig } from '../support/kube.ts';

const core = testKubeConfig().makeApiClient(CoreV1Api);

async function isNotFound(read: () => Promise<unknown>): Promise<boolean> {
  try {
    await read();
    return false;
  } catch (error) {
    if (error instanceof ApiException && error.code === 404) return true;
    throw error;
  }
}

/** Pids of the processes whose command line mentions `text`. */
async function processesMentioning(text: string): Promise<number[]> {
  const pids = (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry));
  const matches = await Promise.all(
    pids.map(async (pid) => {
      const commandLine = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
      return commandLine.includes(text) ? Number(pid) : undefined;
    }),
  );
  return matches.filter((pid) => pid !== undefined);
}

describe('embedded control plane', () => {
  it('collects objects whose owner is deleted', async () => {
    const namespace = 'default';
    const owner = await core.createNamespacedConfigMap({
      namespace,
      body: { metadata: { name: 'gc-owner' } },
    });
    await core.createNamespacedSecret({
      namespace,
      body: {
        metadata: {
          name: 'gc-owned',
          ownerReferences: [
            {
              apiVersion: 'v1',
              kind: 'ConfigMap',
              name: 'gc-owner',
              uid: owner.metadata?.uid ?? '',
              controller: true,
            },
          ],
        },
      },
    });
    await core.deleteNamespacedConfigMap({ namespace, name: 'gc-owner' });
    await eventually(async () => {
      expect(await isNotFound(() => core.readNamespacedSecret({ namespace, name: 'gc-owned' }))).toBe(true);
    });
  });

  it('deletes namespaces with their contents', async () => {
    const namespace = 'doomed';
    await core.createNamespace({ body: { metadata: { name: namespace } } });
    await core.createNamespacedConfigMap({ namespace, body: { metadata: { name: 'content' } } });
    await core.deleteNamespace({ name: namespace });
    await eventually(async () => {
      expect(await isNotFound(() => core.readNamespace({ name: namespace }))).toBe(true);
    });
  });

  it('stops and removes its files when its caller is killed', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/attached-control-plane.ts', import.meta.url));
    const caller = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = await createInterface({ input: caller.stdout })
      [Symbol.asyncIterator]()
      .next()
      .then((r) => [r.value as string]);
    const { pid, workDir } = JSON.parse(line ?? '{}') as { pid: number; workDir: string };
    expect(isRunning(pid)).toBe(true);
    // etcd, kube-apiserver and kube-controller-manager all name the work directory in their flags.
    expect(await processesMentioning(workDir)).toHaveLength(3);

    caller.kill('SIGKILL');
    await eventually(
      async () => {
        expect(isRunning(pid)).toBe(false);
        expect(await processesMentioning(workDir)).toEqual([]);
        expect(existsSync(workDir)).toBe(false);
      },
      { timeoutMs: 60_000 },
    );
  });
});
