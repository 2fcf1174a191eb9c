// First-party caveats are `key = value` predicates. Each verifier (API requests, the egress
// proxy) names the keys it understands; a caveat with any other key fails closed, so a caveat
// added for one purpose can never be silently ignored by another.
import { parseCaveat, parseRfc3339 } from '@burrow/protocol';

/** Returns why the caveat does not hold, or null when it does. */
export type CaveatCheck = (value: string) => string | null;

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
