// undici's Agent and its request API without the rest of the package: its index also loads fetch, WebSocket,
// EventSource, the mocks, caches and interceptors, which cost a process ~12 MiB of resident memory that no part
// of this project uses (docs/performance/sharder-memory.md). The prototype assignment is the one undici's index
// makes; loaded twice (with client-node in a shard, which imports the whole package) it assigns the same.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dispatcher = require('undici/lib/dispatcher/dispatcher.js') as { prototype: object };
Object.assign(dispatcher.prototype, require('undici/lib/api/index.js'));

export const Agent = require('undici/lib/dispatcher/agent.js') as typeof import('undici').Agent;
export type Agent = import('undici').Agent;
