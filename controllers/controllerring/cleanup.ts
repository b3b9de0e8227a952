// What deleting a ring leaves to clean up: the ring's shard and drain labels on its objects, so that a ring
// created later under the same name starts from nothing (its webhook configuration goes first, so no new
// labels are added meanwhile).
import { drainLabel, shardLabel, type ControllerRing } from '../../api/v1alpha1/index.ts';
import { forEachConcurrently } from '../../runtime/concurrency.ts';
import { collectionPath, objectPath, type Discovery } from '../../runtime/discovery.ts';
import type { Logger } from '../../runtime/logger.ts';
import { listMetadata } from '../../runtime/pager.ts';
import { isNotFound, patchTypes, type RestClient } from '../../runtime/rest.ts';
import { ringGroupResources } from './webhook-configuration.ts';

export async function removeRingLabels(
  rest: RestClient,
  discovery: Discovery,
  ring: ControllerRing,
  options: { concurrency: number; logger: Logger },
): Promise<void> {
  const name = ring.metadata?.name ?? '';
  const labels = { [shardLabel(name)]: null, [drainLabel(name)]: null };
  for (const { group, resource } of ringGroupResources(ring)) {
    const info = await discovery.resolve(group, resource);
    if (info === undefined) continue;
    for (const label of [shardLabel(name), drainLabel(name)]) {
      // listMetadata's read is consistent: a stale list could miss labelled objects.
      const objects = listMetadata(rest, collectionPath(info), { labelSelector: label });
      await forEachConcurrently(objects, options.concurrency, async ({ metadata }) => {
        const path = objectPath(info, metadata.namespace, metadata.name ?? '');
        try {
          await rest.request({
            method: 'PATCH',
            path,
            contentType: patchTypes.merge,
            body: { metadata: { labels } },
          });
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      });
    }
    options.logger.info({ group, resource }, 'removed the ring labels');
  }
}
