// promtool, Prometheus's rule checker and rule unit-test runner, built from its Go module by
// hack/build-promtool.sh and cached outside the repo by version (as the control-plane binaries are: the first run
// builds for a few minutes, later runs find it), and run on files in a temporary folder.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const buildScript = fileURLToPath(new URL('../../hack/build-promtool.sh', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd?: string, input?: string): Promise<Run> {
  const child = spawn(command, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(cwd === undefined ? {} : { cwd }),
  });
  child.stdin.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    child.on('error', reject).on('close', (code) => {
      resolve({ code, stdout, stderr });
    });
  });
}

/** The cached promtool's path, building it first when it is missing. */
export async function ensurePromtool(): Promise<string> {
  const build = await run('bash', [buildScript]);
  if (build.code !== 0) {
    throw new Error(`${buildScript} failed with exit code ${String(build.code)}: ${build.stderr}`);
  }
  return build.stdout.trim().split('\n').at(-1) ?? '';
}

/**
 * Runs `promtool <args>` in a new temporary folder holding `files` (name to content; objects are written as
 * YAML), which it removes afterwards; `input` is its standard input.
 */
export async function promtool(
  binary: string,
  args: readonly string[],
  files: Record<string, unknown>,
  input?: string,
): Promise<Run> {
  const directory = mkdtempSync(join(tmpdir(), 'promtool-'));
  try {
    for (const [name, content] of Object.entries(files)) {
      writeFileSync(join(directory, name), typeof content === 'string' ? content : stringify(content));
    }
    return await run(binary, args, directory, input);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
