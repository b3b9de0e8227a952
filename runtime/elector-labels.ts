// The labels a LeaderElector keeps on its Lease. Each holder puts its own; a label that an earlier holder put
// and this one no longer has goes (a shard restarted without a --lease-label must leave the canary side),
// while labels that others put there (the sharder's state label, a person's) stay. No label says who wrote it,
// so the keys the last holder put are recorded in an annotation.
import type { IObjectMeta } from '@kubernetes-models/apimachinery/apis/meta/v1/ObjectMeta';

export const electorLabelsAnnotation = 'controller-rings.io/elector-labels';

/** `metadata` with the elector's `labels` in place of those its annotation says an earlier holder put. */
export function withElectorLabels(
  metadata: IObjectMeta,
  labels: Readonly<Record<string, string>>,
): IObjectMeta {
  // Label keys are qualified names, which never hold a comma.
  const earlier = new Set(metadata.annotations?.[electorLabelsAnnotation]?.split(',') ?? []);
  const kept = Object.entries(metadata.labels ?? {}).filter(([key]) => !earlier.has(key) || key in labels);
  return {
    ...metadata,
    labels: { ...Object.fromEntries(kept), ...labels },
    annotations: { ...metadata.annotations, [electorLabelsAnnotation]: Object.keys(labels).sort().join(',') },
  };
}
