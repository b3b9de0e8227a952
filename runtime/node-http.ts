// node:http, required rather than imported: an ES import of node:http reads every export, the lazy WebSocket
// among them, which loads Node's own copy of undici (~13 MiB of resident memory) that nothing here uses.
import { createRequire } from 'node:module';

export const http = createRequire(import.meta.url)('node:http') as typeof import('node:http');
