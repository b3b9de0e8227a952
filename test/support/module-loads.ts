// Preloaded with `node --import`: writes the URL of every module the process loads (imported or required) to
// stderr, a line "module-load <url>" each, for tests that tell which packages a program loads and which not;
// and at exit the dependencies bundled in Node that it loaded (node:internal/deps/..., e.g. Node's own undici,
// which no hook sees). Loaded in a test's own process it would record that process: pass it to a child's node only.
import { writeSync } from 'node:fs';
import { registerHooks } from 'node:module';

registerHooks({
  load(url, context, nextLoad) {
    writeSync(2, `module-load ${url}\n`);
    return nextLoad(url, context);
  },
});

// Undocumented, and so not in @types/node: the internal modules the process has loaded, "NativeModule <id>".
const { moduleLoadList } = process as unknown as { moduleLoadList: string[] };
process.on('exit', () => {
  for (const entry of moduleLoadList) {
    const bundled = /^NativeModule (internal\/deps\/.*)$/.exec(entry)?.[1];
    if (bundled !== undefined) writeSync(2, `module-load node:${bundled}\n`);
  }
});
