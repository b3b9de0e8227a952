// The benchmarks read the sharder's progress from its metrics, as Prometheus would.

/** The text of a process's /metrics on 127.0.0.1. */
export async function metrics(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** The sum of a metric's samples whose line starts with `prefix` (a name, or a name and labels). */
export function sum(text: string, prefix: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(prefix))
    .reduce((total, line) => total + Number(line.split(' ').at(-1)), 0);
}
