/**
 * How results look: aligned tables and key/value blocks for people, JSON for scripts. Pure
 * string functions, so commands decide where the text goes.
 */

/** Columns separated by two spaces; the last column is not padded, so lines carry no trailing blanks. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, column) => Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].map((l) => `${l}\n`).join('');
}

/** `key  value` lines with the values aligned; pairs with no value are left out. */
export function renderFields(fields: Array<[string, string | undefined]>): string {
  const shown = fields.filter((pair): pair is [string, string] => pair[1] !== undefined && pair[1] !== '');
  const width = Math.max(0, ...shown.map(([key]) => key.length));
  return shown.map(([key, value]) => `${key.padEnd(width)}  ${value}\n`).join('');
}

export function renderJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** Seconds with two decimals, the way `created dev in 0.41 s` reads. */
export function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** How long ago, compactly, for table cells; dates older than a month print as the date. */
export function formatAge(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return '-';
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return iso;
  const seconds = Math.round((now.getTime() - then.getTime()) / 1000);
  if (seconds < 0) return then.toISOString().slice(0, 10);
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ago`;
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ago`;
  if (seconds < 30 * 86_400) return `${Math.floor(seconds / 86_400)}d ago`;
  return then.toISOString().slice(0, 10);
}

/** A timestamp with its age, for detail views: `2025-01-01 12:00:00 UTC (3d ago)`. */
export function formatTimestamp(iso: string | null | undefined, now: Date = new Date()): string | undefined {
  if (!iso) return undefined;
  const then = new Date(iso);
  if (Number.isNaN(then.getTime())) return iso;
  const stamp = then.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
  const age = formatAge(iso, now);
  // Old enough that the age is just the date again.
  return age.endsWith(' ago') ? `${stamp} (${age})` : stamp;
}

/**
 * The runtime and what it means for isolation, without saying the runtime twice: servers
 * usually start the isolation sentence with its name.
 */
export function describeRuntime(runtime: string | undefined, isolation: string | undefined): string {
  if (!isolation) return runtime ?? 'unknown runtime';
  if (!runtime || isolation.toLowerCase().startsWith(runtime.toLowerCase())) return isolation;
  return `${runtime}: ${isolation}`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}
