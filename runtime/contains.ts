/**
 * Whether `actual` holds every field of `desired` with the same value: objects may have more fields (the API
 * server adds defaults and metadata), arrays must match element by element. Lets a controller skip writes
 * whose result is already there.
 */
export function containsFields(actual: unknown, desired: unknown): boolean {
  if (Array.isArray(desired)) {
    return (
      Array.isArray(actual) &&
      actual.length === desired.length &&
      desired.every((item, index) => containsFields(actual[index], item))
    );
  }
  if (desired !== null && typeof desired === 'object') {
    if (actual === null || typeof actual !== 'object' || Array.isArray(actual)) return false;
    const fields = actual as Record<string, unknown>;
    return Object.entries(desired).every(
      ([key, value]) => value === undefined || containsFields(fields[key], value),
    );
  }
  return Object.is(actual, desired);
}
