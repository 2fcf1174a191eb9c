/**
 * Parsers for option values, shaped for commander's `(value, previous) => next` callbacks.
 * They throw InvalidArgumentError so commander reports the option by name.
 */
import { InvalidArgumentError } from 'commander';

/** Collects repeated `--env KEY=VALUE` into one record; the value may itself contain `=`. */
export function collectEnv(pair: string, previous: Record<string, string> = {}): Record<string, string> {
  const at = pair.indexOf('=');
  if (at <= 0) throw new InvalidArgumentError(`expected KEY=VALUE, got '${pair}'`);
  return { ...previous, [pair.slice(0, at)]: pair.slice(at + 1) };
}

export function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(parsed) || parsed <= 0) {
    throw new InvalidArgumentError(`expected a whole number above 0, got '${value}'`);
  }
  return parsed;
}

/**
 * Collects repeated `--file SRC:DEST`: a local path and where it goes in the sandbox. The first
 * `:` separates them (sandbox paths keep any later ones); both sides must be there.
 */
export function collectFileSpec(spec: string, previous: Array<{ source: string; dest: string }> = []): Array<{ source: string; dest: string }> {
  const at = spec.indexOf(':');
  if (at <= 0 || at === spec.length - 1) throw new InvalidArgumentError(`expected LOCAL:SANDBOX_PATH, got '${spec}'`);
  return [...previous, { source: spec.slice(0, at), dest: spec.slice(at + 1) }];
}

/** A number of CPUs: fractions allowed (`0.5`). */
export function positiveNumber(value: string): number {
  const parsed = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value.trim()) || !(parsed > 0)) {
    throw new InvalidArgumentError(`expected a number above 0, got '${value}'`);
  }
  return parsed;
}

/** `90s`, `30m`, `24h`, `7d`: how far back from now, in milliseconds. */
export function duration(value: string): number {
  const m = /^(\d+)([smhd])$/.exec(value.trim());
  if (!m) throw new InvalidArgumentError(`expected a duration like 30m, 24h or 7d, got '${value}'`);
  return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
}
