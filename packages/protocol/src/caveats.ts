/**
 * The text of first-party caveats: `key = value` predicates, the same for API tokens and
 * secret placeholders. What each key means is the verifier's business (server auth/, egress/).
 */

export function parseCaveat(caveat: string): { key: string; value: string } | null {
  const m = /^([a-z][a-z0-9-]*)\s*=\s*(.*?)\s*$/s.exec(caveat);
  return m ? { key: m[1]!, value: m[2]! } : null;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

export function parseRfc3339(value: string): number | null {
  if (!RFC3339.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** Comma-separated lists: `ops = read,exec`, `method = GET,HEAD`. */
export function listValue(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}
