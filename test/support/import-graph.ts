// The static import graph of compiled ES modules: which files a module loads, and which packages. For the
// package test, to show what each of the package's entry points brings along.
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import ts from 'typescript';

export interface ImportGraph {
  /** The files reached, relative to `root`, the entry first. */
  files: string[];
  /** The packages imported by bare specifier (`pino`, `@scope/name`), without Node's own (`node:`). */
  packages: string[];
}

/** The package a bare specifier names: `a/b/c` → `a`, `@s/a/b` → `@s/a`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return (specifier.startsWith('@') ? parts.slice(0, 2) : parts.slice(0, 1)).join('/');
}

/** Follows the relative imports (static and dynamic) of `entry`, a file under `root`. */
export function importGraph(root: string, entry: string): ImportGraph {
  const files = new Set<string>();
  const packages = new Set<string>();
  const pending = [resolve(root, entry)];
  for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
    if (files.has(file)) continue;
    files.add(file);
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    for (const { fileName: specifier } of importedFiles) {
      if (specifier.startsWith('.')) pending.push(resolve(dirname(file), specifier));
      else if (!specifier.startsWith('node:')) packages.add(packageName(specifier));
    }
  }
  return {
    files: [...files].map((file) => relative(root, file)),
    packages: [...packages].sort(),
  };
}
