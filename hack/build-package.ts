// npm run build (and npm pack, through prepack): the package's dist/, compiled by tsconfig.build.json, with
// the files the cdk8s constructs read when they synthesize (the CRD and the Argo CD health check).
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const assets = [
  'crds/sharding.controller-rings.io_controllerrings.yaml',
  'cdk8s/argocd/controllerring-health.lua',
];

rmSync(`${root}dist`, { recursive: true, force: true });
// tsc from node_modules/.bin, which npm puts on PATH for its scripts.
execFileSync('tsc', ['-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
for (const asset of assets) cpSync(`${root}${asset}`, `${root}dist/${asset}`);
