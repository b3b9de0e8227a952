// What the benchmarks read of processes and of the machine from /proc: CPU time and resident memory.
import { execFileSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

const clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** The CPU seconds (user + system) a process, or its main thread only, has used so far. */
export async function cpuSeconds(pid: number, { mainThread = false } = {}): Promise<number> {
  const stat = await readFile(mainThread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8');
  // The fields after the command (in parentheses, and it may hold spaces): utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
}

/** VmRSS; VmHWM, its highest so far; RssAnon, memory of its own; RssFile, mapped files (the node binary). */
export type MemoryField = 'VmRSS' | 'VmHWM' | 'RssAnon' | 'RssFile';

/** A process's resident memory in bytes, from /proc/<pid>/status. */
export async function residentBytes(pid: number, field: MemoryField = 'VmRSS'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
}

/** The pids of a process's descendants, from /proc/<pid>/task/<tid>/children. */
export async function descendants(pid: number): Promise<number[]> {
  const tasks = await readdir(`/proc/${pid}/task`).catch(() => []);
  const children = (
    await Promise.all(
      tasks.map((task) => readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')),
    )
  )
    .join(' ')
    .split(' ')
    .filter((child) => child !== '')
    .map(Number);
  return [...children, ...(await Promise.all(children.map(descendants))).flat()];
}

/** The machine's busy and total CPU time so far (all cores), from /proc/stat, in clock ticks. */
export async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const ticks = line.split(/\s+/).slice(1).map(Number);
  const total = ticks.reduce((sum, tick) => sum + tick, 0);
  // idle and iowait
  return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
}
