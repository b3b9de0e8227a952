// A process's V8 heap after a full garbage collection, asked through its inspector (node --inspect): the
// measure of what a process retains, free of when its collector last ran.
import { readFile } from 'node:fs/promises';
import { sleep } from './example-ring.ts';

/** The node flag that opens the inspector on a free port; the process logs the address. */
export const inspectFlag = '--inspect=127.0.0.1:0';

/** The inspector's WebSocket address, from the log of a process started with inspectFlag. */
async function inspectorUrl(logPath: string): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const match = /Debugger listening on (ws:\/\/\S+)/.exec(await readFile(logPath, 'utf8'));
    if (match?.[1] !== undefined) return match[1];
    await sleep(100);
  }
  throw new Error(`no inspector address in ${logPath}`);
}

/** Collects garbage (a full, compacting collection) in the process, then returns its heap's used bytes. */
export async function heapUsedAfterGc(logPath: string): Promise<number> {
  const socket = new WebSocket(await inspectorUrl(logPath));
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let next = 1;
  const call = (method: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const id = next++;
      const onMessage = (event: MessageEvent): void => {
        const message = JSON.parse(String(event.data)) as {
          id?: number;
          result?: Record<string, unknown>;
          error?: { message: string };
        };
        if (message.id !== id) return;
        socket.removeEventListener('message', onMessage);
        if (message.error !== undefined) reject(new Error(`${method}: ${message.error.message}`));
        else resolve(message.result ?? {});
      };
      socket.addEventListener('message', onMessage);
      socket.send(JSON.stringify({ id, method }));
    });
  try {
    await call('HeapProfiler.collectGarbage');
    const usage = await call('Runtime.getHeapUsage');
    return Number(usage.usedSize);
  } finally {
    socket.close();
  }
}
