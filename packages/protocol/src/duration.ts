/**
 * Durations as the API takes them: Go-style strings (`30s`, `1m30s`, `500ms`). Callers may give
 * milliseconds instead; this turns either into the wire form and back into milliseconds.
 */

const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** The wire form: strings travel as given, numbers are milliseconds. */
export function durationParam(value: string | number): string {
  if (typeof value === 'string') return value;
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`a duration is a number of milliseconds of at least 0, got ${value}`);
  return `${Math.round(value)}ms`;
}

/** Milliseconds, or undefined for a string this parser does not understand (the server judges it). */
export function durationMs(value: string | number): number | undefined {
  if (typeof value === 'number') return value;
  const text = value.trim();
  if (text === '0') return 0;
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) return undefined;
  return parts.reduce((sum, [, amount, unit]) => sum + Number(amount) * (UNIT_MS[unit ?? ''] ?? 0), 0);
}
