// Reading the JSON log lines of a process or a pino stream. JSON.parse keeps the last of repeated keys, so a
// field bound twice (pino does not merge child bindings) is found on the line's text.
import { readFile } from 'node:fs/promises';

/** The keys that occur more than once in one object of a JSON text, at any depth, in order of repetition. */
export function duplicateKeys(json: string): string[] {
  const duplicates: string[] = [];
  // One entry per open object or array: the keys seen so far (undefined for arrays), whether a key is next.
  const open: { keys: Set<string> | undefined; keyNext: boolean }[] = [];
  for (let i = 0; i < json.length; i++) {
    const char = json[i];
    const top = open.at(-1);
    if (char === '"') {
      let end = i + 1;
      while (json[end] !== '"') end += json[end] === '\\' ? 2 : 1;
      if (top?.keys !== undefined && top.keyNext) {
        const key = JSON.parse(json.slice(i, end + 1)) as string;
        if (top.keys.has(key)) duplicates.push(key);
        top.keys.add(key);
        top.keyNext = false;
      }
      i = end;
    } else if (char === '{') open.push({ keys: new Set(), keyNext: true });
    else if (char === '[') open.push({ keys: undefined, keyNext: false });
    else if (char === '}' || char === ']') open.pop();
    else if (char === ',' && top?.keys !== undefined) top.keyNext = true;
  }
  return duplicates;
}

/** The lines of a JSON log file (none if it does not exist yet), as text. */
export async function readLogLines(path: string): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.split('\n').filter((line) => line.startsWith('{'));
}

/** The lines of a JSON log file (none if it does not exist yet), parsed. */
export async function readLogEntries(path: string): Promise<Record<string, unknown>[]> {
  return (await readLogLines(path)).map((line) => JSON.parse(line) as Record<string, unknown>);
}
