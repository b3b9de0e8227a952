// Preloaded with `node --import`: writes the URL of every module the process loads (imported or required) to
// stderr, a line "module-load <url>" each, for tests that tell which packages a program loads and which not.
// Loaded in a test's own process it would record that process: pass it to a child's node only.
import { writeSync } from 'node:fs';
import { registerHooks } from 'node:module';

registerHooks({
  load(url, context, nextLoad) {
    writeSync(2, `module-load ${url}\n`);
    return nextLoad(url, context);
  },
});
