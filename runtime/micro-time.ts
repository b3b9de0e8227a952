// Lease times are MicroTime: the API server rejects them with fewer than 6 fractional digits, and a Date's
// ISO string has 3 (JavaScript time has millisecond resolution, so the last 3 digits are zeros).

/** RFC 3339 with microseconds, as Lease MicroTime fields need: 2026-11-26T10:00:00.123000Z */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
