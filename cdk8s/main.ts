// npm run synth: rewrites config/ from the app in app.ts (config/ holds nothing else, so stale files go).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDirectory, renderConfig } from './app.ts';

const files = renderConfig();
const root = fileURLToPath(configDirectory);
rmSync(root, { recursive: true, force: true });
for (const [path, content] of files) {
  const file = fileURLToPath(new URL(path, configDirectory));
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, content);
}
console.log(`wrote ${files.size} files to ${root}`);
