// Folders of generated manifests (config/, examples/*/deploy/): rendered by a cdk8s app as a map of files,
// written by `npm run synth` and compared with what is committed by the drift tests.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Yaml, type Chart } from 'cdk8s';
import { parseAllDocuments } from 'yaml';

/** A folder's files by path relative to it, and how to render them. */
export interface GeneratedDirectory {
  directory: URL;
  render: () => Map<string, string>;
}

/** Charts' objects as one YAML file, under a comment that says where to edit them instead. */
export function yamlFile(header: string, ...charts: Chart[]): string {
  return `# ${header}\n${Yaml.stringify(...charts.flatMap((chart) => chart.toJson() as unknown[]))}`;
}

/** The objects of a YAML file, as plain values. */
export function yamlDocuments(text: string): unknown[] {
  return parseAllDocuments(text).map((document) => document.toJS() as unknown);
}

/** Replaces the folder's content with the files (the folder holds nothing else, so stale files go). */
export function writeGeneratedFiles(directory: URL, files: Map<string, string>): void {
  rmSync(directory, { recursive: true, force: true });
  for (const [path, content] of files) {
    const file = fileURLToPath(new URL(path, directory));
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
}

const repository = fileURLToPath(new URL('../', import.meta.url));

function committedFiles(directory: URL): Map<string, string> {
  const root = fileURLToPath(directory);
  if (!existsSync(root)) return new Map();
  const files = readdirSync(root, { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
  return new Map(
    files.map((entry) => {
      const path = join(entry.parentPath, entry.name);
      return [relative(root, path), readFileSync(path, 'utf8')];
    }),
  );
}

/** Throws, naming the files, unless the folder holds exactly what the app renders now. */
export function assertSynthesized({ directory, render }: GeneratedDirectory): void {
  const rendered = render();
  const committed = committedFiles(directory);
  const paths = new Set([...rendered.keys(), ...committed.keys()]);
  const stale = [...paths].filter((path) => rendered.get(path) !== committed.get(path)).sort();
  if (stale.length > 0) {
    const folder = relative(repository, fileURLToPath(directory));
    throw new Error(`${folder}/ differs from the cdk8s app in ${stale.join(', ')}: run npm run synth`);
  }
}
