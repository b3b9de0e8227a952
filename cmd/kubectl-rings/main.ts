#!/usr/bin/env node
// kubectl-rings, the kubectl plugin of controller-rings: `kubectl rings get|describe` (docs/kubectl-rings.md).
// kubectl finds it on PATH by its name. The commands are loaded only after the Node.js version is checked, so
// that an older node (which `#!/usr/bin/env node` may find first) says what is wrong instead of a syntax error.
const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  console.error(`error: kubectl-rings needs Node.js 24 or later; this is ${process.version}`);
  process.exit(1);
}
const { run } = await import('./cli.ts');
process.exitCode = await run(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  now: () => new Date(),
});
