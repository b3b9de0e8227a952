#!/usr/bin/env bash
# Rewrites deploy/image/package-lock.json after a change of deploy/image/package.json or of the repository's
# lock. It starts from the repository's lock, so that npm keeps its versions (of dependencies of dependencies
# too) and the image runs what the tests ran; deploy/image/lock.test.ts checks that it does.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root/deploy/image"
# The repository's version is not the image manifest's, which has none.
node -e '
  const fs = require("node:fs");
  const lock = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
  delete lock.version;
  delete lock.packages[""].version;
  fs.writeFileSync("package-lock.json", JSON.stringify(lock, null, 2) + "\n");
' "$root/package-lock.json"
npm install --package-lock-only --ignore-scripts --no-audit --no-fund --loglevel=error
