// Durations in flags and config files, written the way Kubernetes components take them: 300ms, 15s, 5m, 1h30m.
const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const pattern = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h))+$/;

/**
 * Whole milliseconds of a duration like 1m30s (timers take no finer ones; rounding also undoes binary
 * fractions: 1.1 × 1000 is 1100.0000000000002); throws with the expected format on anything else.
 */
export function parseDuration(text: string): number {
  if (!pattern.test(text)) {
    throw new Error(
      `invalid duration "${text}": use a number with a unit (ms, s, m, h), e.g. 15s, 5m or 1m30s`,
    );
  }
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * (units[unit ?? ''] ?? 0);
  }
  return Math.round(total);
}
