// `npm run bench -- <name> [flags]`: runs bench/<name>.ts with this package's Node, so that every benchmark is
// one command and a mistyped name lists the ones there are.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const directory = fileURLToPath(new URL('.', import.meta.url));
const names = readdirSync(directory)
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && file !== 'run.ts')
  .map((file) => file.slice(0, -'.ts'.length))
  .sort();
const [name, ...args] = process.argv.slice(2);
if (name === undefined || !names.includes(name)) {
  process.stderr.write(
    `${name === undefined ? 'no benchmark named' : `no benchmark ${name}`}; usage: npm run bench -- <name> [flags], name one of: ${names.join(', ')}\n`,
  );
  process.exit(2);
}
const { status, signal } = spawnSync(process.execPath, [`${directory}${name}.ts`, ...args], {
  stdio: 'inherit',
});
process.exit(status ?? (signal === null ? 1 : 128));
