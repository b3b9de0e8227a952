import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from '@jest/globals';
import { cpuSeconds, descendants, machineCpu, residentBytes } from './proc.ts';

describe('proc', () => {
  it("reads this process's CPU time, growing with work, its main thread's within it", async () => {
    const before = await cpuSeconds(process.pid);
    const until = performance.now() + 100;
    while (performance.now() < until);
    const after = await cpuSeconds(process.pid);
    expect(after).toBeGreaterThan(before);
    expect(await cpuSeconds(process.pid, { mainThread: true })).toBeLessThanOrEqual(after);
  });

  it("reads this process's resident memory and its parts", async () => {
    const rss = await residentBytes(process.pid);
    expect(rss).toBeGreaterThan(2 ** 20);
    expect(await residentBytes(process.pid, 'RssAnon')).toBeLessThan(rss);
    expect(await residentBytes(process.pid, 'VmHWM')).toBeGreaterThanOrEqual(rss);
  });

  it("lists a process's children", async () => {
    const child = spawn('sleep', ['30']);
    await once(child, 'spawn');
    try {
      expect(await descendants(process.pid)).toContain(child.pid);
    } finally {
      child.kill();
    }
  });

  it("reads the machine's busy time within its total", async () => {
    const { busy, total } = await machineCpu();
    expect(busy).toBeGreaterThan(0);
    expect(busy).toBeLessThan(total);
  });
});
