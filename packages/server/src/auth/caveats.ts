// First-party caveats are `key = value` predicates. Each verifier (API requests, the egress
// proxy) names the keys it understands; a caveat with any other key fails closed, so a caveat
// added for one purpose can never be silently ignored by another.

/** Returns why the caveat does not hold, or null when it does. */
export type CaveatCheck = (value: string) => string | null;

export function parseCaveat(caveat: string): { key: string; value: string } | null {
  const m = /^([a-z][a-z0-9-]*)\s*=\s*(.*?)\s*$/s.exec(caveat);
  return m ? { key: m[1]!, value: m[2]! } : null;
}

/** The first caveat that does not hold, with the reason, or null when every one holds. */
export function firstFailingCaveat(caveats: string[], checks: Record<string, CaveatCheck>): string | null {
  for (const caveat of caveats) {
    const parsed = parseCaveat(caveat);
    const check = parsed && Object.hasOwn(checks, parsed.key) ? checks[parsed.key] : undefined;
    if (!parsed || !check) return `unknown caveat '${caveat}'`;
    const why = check(parsed.value);
    if (why !== null) return `caveat '${caveat}' does not hold: ${why}`;
  }
  return null;
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

export function parseRfc3339(value: string): number | null {
  if (!RFC3339.test(value)) return null;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

/** `expires` and `not-before`, which every kind of macaroon burrow verifies understands. */
export function validityChecks(now: number): Record<string, CaveatCheck> {
  return {
    expires: (v) => {
      const at = parseRfc3339(v);
      if (at === null) return 'not an RFC 3339 time';
      return now < at ? null : 'expired';
    },
    'not-before': (v) => {
      const at = parseRfc3339(v);
      if (at === null) return 'not an RFC 3339 time';
      return now >= at ? null : 'not valid yet';
    },
  };
}

/** Comma-separated lists: `ops = read,exec`, `method = GET,HEAD`. */
export function listValue(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** When the earliest well-formed `expires` caveat ends the token's validity, or null if none does. */
export function expiryOf(caveats: string[]): number | null {
  let earliest: number | null = null;
  for (const caveat of caveats) {
    const parsed = parseCaveat(caveat);
    const at = parsed?.key === 'expires' ? parseRfc3339(parsed.value) : null;
    if (at !== null && (earliest === null || at < earliest)) earliest = at;
  }
  return earliest;
}
