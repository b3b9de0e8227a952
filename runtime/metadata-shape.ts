// What the sharder decodes of an object's metadata wherever it reads objects (the webhook's reviews, the sync's
// list pages): the shapes runtime/json-pick.ts builds, named once.
import type { Shape } from './json-pick.ts';

export const scalar: Shape = { keep: [] };
export const objectOfScalars: Shape = { keep: ['object'] };

/** The metadata that decides an object's shard: its hash key (sharding/keys.ts) and its shard label. */
export const assignmentMetadata: Readonly<Record<string, Shape>> = {
  name: scalar,
  generateName: scalar,
  namespace: scalar,
  labels: objectOfScalars,
  ownerReferences: { keep: ['array', 'object'] },
};
