/**
 * API tokens are macaroons: this builds the caveats burrow understands and attenuates a token
 * offline. Caveats only narrow: the server checks every one, and refuses a token that carries a
 * caveat it does not know.
 */
import { attenuate, parseMacaroon, serializeMacaroon, type Macaroon } from './macaroon.js';

/** What an API token may be allowed to do; `admin` covers tokens and secrets. */
export const TOKEN_OPS = ['read', 'exec', 'write', 'checkpoint', 'admin'] as const;
export type TokenOp = (typeof TOKEN_OPS)[number];

export interface TokenRestrictions {
  /** Only this sandbox. */
  sandbox?: string;
  /** Only sandboxes whose names start with this. */
  sandboxPrefix?: string;
  /** Only these operations. */
  ops?: TokenOp[];
  /** Valid until this moment. */
  expires?: Date;
  /** Valid from this moment. */
  notBefore?: Date;
}

/**
 * The value of a `sandbox` caveat: `NAME`, or `NAME @ TIME` for the sandbox of that name that
 * existed at TIME. A name alone means the sandbox that existed when the server minted the token
 * (the server binds what it mints to the sandbox's id as well); offline, only the time can tell a
 * sandbox from a later one re-created under its name.
 */
export function sandboxCaveatValue(name: string, existedAt?: Date): string {
  // Milliseconds kept: a sandbox created earlier in the same second is still the one named.
  if (existedAt === undefined) return name;
  if (Number.isNaN(existedAt.getTime())) throw new RangeError('invalid date');
  return `${name} @ ${existedAt.toISOString()}`;
}

export function parseSandboxCaveatValue(value: string): { name: string; existedAt: string | null } {
  const at = value.indexOf('@');
  if (at < 0) return { name: value.trim(), existedAt: null };
  return { name: value.slice(0, at).trim(), existedAt: value.slice(at + 1).trim() };
}

/**
 * `key = value` predicates in the order the restrictions name them. With `boundAt` (offline
 * attenuation), a `sandbox` restriction names the sandbox of that name that exists then.
 */
export function caveatsFor(r: TokenRestrictions, boundAt?: Date): string[] {
  const caveats: string[] = [];
  if (r.sandbox !== undefined) caveats.push(`sandbox = ${sandboxCaveatValue(r.sandbox, boundAt)}`);
  if (r.sandboxPrefix !== undefined) caveats.push(`sandbox-prefix = ${r.sandboxPrefix}`);
  if (r.ops !== undefined) {
    const unknown = r.ops.filter((op) => !(TOKEN_OPS as readonly string[]).includes(op));
    if (unknown.length) throw new RangeError(`unknown operation(s) ${unknown.join(', ')}; known: ${TOKEN_OPS.join(', ')}`);
    caveats.push(`ops = ${r.ops.join(',')}`);
  }
  if (r.expires !== undefined) caveats.push(`expires = ${rfc3339(r.expires)}`);
  if (r.notBefore !== undefined) caveats.push(`not-before = ${rfc3339(r.notBefore)}`);
  return caveats;
}

/** A weaker token, made without the server: the holder of `token` can always do this. */
export function attenuateToken(token: string, restrictions: TokenRestrictions | string[], now = new Date()): string {
  const caveats = Array.isArray(restrictions) ? restrictions : caveatsFor(restrictions, now);
  let m: Macaroon = parseMacaroon(token);
  for (const caveat of caveats) m = attenuate(m, caveat);
  return serializeMacaroon(m);
}

/** The caveats a token carries and the id of the token it was made from (for `token revoke`). */
export function inspectToken(token: string): { id: string; caveats: string[] } {
  const m = parseMacaroon(token);
  return { id: m.identifier.toString('utf8'), caveats: m.caveats };
}

function rfc3339(d: Date): string {
  if (Number.isNaN(d.getTime())) throw new RangeError('invalid date');
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
