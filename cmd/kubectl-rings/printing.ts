// Text as kubectl prints it: tables aligned as its tabwriter aligns them (three spaces between columns, a
// column at least six wide, no spaces at the end of a line), ages as its HumanDuration writes them, and -o json (four
// spaces of indentation) or -o yaml.
import { yaml } from '../../runtime/yaml.ts';
import type { OutputFormat } from './args.ts';

const padding = 3;
const minWidth = 6;

/** The rows under the header, each cell padded to its column's width; ends with a newline. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const lines = [header, ...rows];
  const widths = header.map((_, column) =>
    Math.max(minWidth, ...lines.map((line) => (line[column] ?? '').length + padding)),
  );
  return (
    lines
      // An empty last cell leaves no padding behind.
      .map((line) =>
        line
          .map((cell, column) => cell.padEnd(widths[column] ?? 0))
          .join('')
          .trimEnd(),
      )
      .join('\n')
      .concat('\n')
  );
}

/** How long ago `time` was at `now`, as kubectl's AGE column says it (5s, 3m20s, 12m, 4h5m, 2d3h, 1y20d). */
export function age(time: string | undefined, now: Date): string {
  const at = time === undefined ? NaN : Date.parse(time);
  if (Number.isNaN(at)) return '<unknown>';
  const seconds = Math.floor((now.getTime() - at) / 1000);
  // A clock a second ahead of the server's is "now".
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  const both = (big: number, unit: string, small: number, smallUnit: string): string =>
    small === 0 ? `${big}${unit}` : `${big}${unit}${small}${smallUnit}`;
  if (minutes < 10) return both(minutes, 'm', seconds % 60, 's');
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) return both(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (hours < 24 * 8) return both(days, 'd', hours % 24, 'h');
  if (days < 365 * 2) return `${days}d`;
  const years = Math.floor(days / 365);
  if (days < 365 * 8) return both(years, 'y', days % 365, 'd');
  return `${years}y`;
}

/** `value` as -o json or -o yaml prints it; ends with a newline. */
export function formatted(value: unknown, format: Exclude<OutputFormat, 'table'>): string {
  return format === 'json' ? `${JSON.stringify(value, null, 4)}\n` : yaml().stringify(value);
}
