// What of a request to a sandbox URL is burrow's own and never reaches the app inside: an
// Authorization that carries a burrow API token (for this sandbox, another one, valid or not),
// and every cookie named burrow_* (the dashboard's session, the URL's login). The app's own
// credentials (its Basic auth, its own bearer tokens, its cookies) pass byte for byte. Both
// relays (the byte-level one and Node's HTTP server) strip through these functions.
import type { IncomingHttpHeaders } from 'node:http';
import { parseMacaroon } from '@burrow/protocol';

export const BURROW_COOKIE_PREFIX = 'burrow_';

/** The token of a `Bearer` Authorization value, or undefined. */
export function bearerToken(value: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(value ?? '')?.[1];
}

/**
 * A version 2 macaroon starts with the byte 2, which base64 writes as `A` and one of `g`-`v`:
 * other words (JWTs, Basic credentials) are told apart without the cost of a parse that throws.
 */
const MAYBE_MACAROON = /^A[g-v][A-Za-z0-9+/_-]*={0,2}$/;

/**
 * Whether an Authorization (or Proxy-Authorization) value carries a burrow token: any word of it
 * that parses as a macaroon (`Bearer <token>`, and malformed values that burrow would refuse but
 * that still hold a token). Its location is not looked at, since it is not signed: burrow accepts
 * its tokens whatever location they name.
 */
export function isBurrowAuthorization(value: string): boolean {
  return value.split(/[\s,]+/).some((word) => {
    if (!MAYBE_MACAROON.test(word)) return false;
    try {
      parseMacaroon(word);
      return true;
    } catch {
      return false;
    }
  });
}

/** The values of the cookies named `name` in a Cookie header. */
export function cookieValues(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  for (const pair of (header ?? '').split(';')) {
    const eq = pair.indexOf('=');
    if (eq > 0 && pair.slice(0, eq).trim() === name) values.push(pair.slice(eq + 1).trim());
  }
  return values;
}

/**
 * A Cookie header's value without burrow's cookies, the others exactly as they came; undefined
 * when nothing is left, so that the header is dropped.
 */
export function withoutBurrowCookies(value: string): string | undefined {
  if (!value.includes(BURROW_COOKIE_PREFIX)) return value;
  const kept = value
    .split(';')
    .filter((pair) => !pair.trimStart().startsWith(BURROW_COOKIE_PREFIX))
    .join(';')
    .trimStart();
  return kept.trim() ? kept : undefined;
}

/** The value a header of a request reaches the app with, or undefined when it is dropped. */
export function appHeaderValue(name: string, value: string): string | undefined {
  switch (name.toLowerCase()) {
    case 'authorization':
    case 'proxy-authorization':
      return isBurrowAuthorization(value) ? undefined : value;
    case 'cookie':
      return withoutBurrowCookies(value);
    default:
      return value;
  }
}

/** The request's headers as the app may see them (for the path through Node's HTTP server). */
export function appHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out = { ...headers };
  for (const name of ['authorization', 'proxy-authorization', 'cookie'] as const) {
    const value = out[name];
    if (value === undefined) continue;
    const kept = appHeaderValue(name, value);
    if (kept === undefined) delete out[name];
    else out[name] = kept;
  }
  return out;
}
