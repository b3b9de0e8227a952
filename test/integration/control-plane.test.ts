// The embedded control plane behaves like a cluster where the tests need it to (garbage collection, namespace
// deletion), and leaves no process or directory behind when its caller dies.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { isNotFound, RestClient } from '../../runtime/rest.ts';
import { isRunning } from '../control-plane/control-plane.ts';
import { eventually } from '../support/eventually.ts';
import { testKubeConfig } from '../support/kube.ts';

const rest = new RestClient(testKubeConfig());

async function gone(path: string): Promise<boolean> {
  return rest.request({ path }).then(
    () => false,
    (error: unknown) => {
      if (isNotFound(error)) return true;
      throw error;
    },
  );
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
    const configMaps = '/api/v1/namespaces/default/configmaps';
    const owner = await rest.request<IConfigMap>({
      method: 'POST',
      path: configMaps,
      body: { metadata: { name: 'gc-owner' } },
    });
    const controllerReference = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      name: 'gc-owner',
      uid: owner.metadata?.uid ?? '',
      controller: true,
    };
    await rest.request({
      method: 'POST',
      path: '/api/v1/namespaces/default/secrets',
      body: { metadata: { name: 'gc-owned', ownerReferences: [controllerReference] } },
    });
    await rest.request({ method: 'DELETE', path: `${configMaps}/gc-owner` });
    await eventually(async () => {
      expect(await gone('/api/v1/namespaces/default/secrets/gc-owned')).toBe(true);
    });
  });

  it('deletes namespaces with their contents', async () => {
    await rest.request({
      method: 'POST',
      path: '/api/v1/namespaces',
      body: { metadata: { name: 'doomed' } },
    });
    await rest.request({
      method: 'POST',
      path: '/api/v1/namespaces/doomed/configmaps',
      body: { metadata: { name: 'content' } },
    });
    await rest.request({ method: 'DELETE', path: '/api/v1/namespaces/doomed' });
    await eventually(async () => {
      expect(await gone('/api/v1/namespaces/doomed')).toBe(true);
    });
  });

  it('stops and removes its files when its caller is killed', async () => {
    const fixture = fileURLToPath(new URL('../fixtures/attached-control-plane.ts', import.meta.url));
    const caller = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] });
    const [line] = (await once(createInterface({ input: caller.stdout }), 'line')) as [string];
    const { pid, workDir } = JSON.parse(line) as { pid: number; workDir: string };
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
