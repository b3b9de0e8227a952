import type { NamespaceSelector } from '../api/v1alpha1/index.ts';

/** Whether `labels` match a LabelSelector, with the API server's semantics (an empty selector matches all). */
export function matchesSelector(
  selector: NamespaceSelector,
  labels: Readonly<Record<string, string>> | undefined,
): boolean {
  const has = (key: string): boolean => labels !== undefined && Object.hasOwn(labels, key);
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels?.[key] !== value) return false;
  }
  return (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    switch (operator) {
      case 'In':
        return has(key) && values.includes(labels?.[key] ?? '');
      case 'NotIn':
        return !has(key) || !values.includes(labels?.[key] ?? '');
      case 'Exists':
        return has(key);
      case 'DoesNotExist':
        return !has(key);
    }
  });
}
