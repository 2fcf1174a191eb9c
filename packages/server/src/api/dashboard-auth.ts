// The dashboard's credential: the same API token a client sends as `Authorization: Bearer`, kept
// by the browser in an HttpOnly, SameSite=Strict cookie so page scripts never hold it. A cookie
// travels with every request to this host, so cookie-authenticated requests must also prove they
// come from the dashboard itself: state-changing calls carry a custom header (which a cross-site
// form cannot send, and which fetch from another origin cannot send without a CORS preflight we
// never grant), and WebSocket upgrades, which browsers cannot add headers to, carry our Origin.
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../core/errors.js';

export const SESSION_COOKIE = 'burrow_session';
export const CSRF_HEADER = 'x-burrow-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** A browser session lasts a week; the token itself may expire sooner. */
const MAX_AGE_S = 7 * 24 * 3600;

/** The token from the session cookie, or undefined when the request carries none. */
export function cookieToken(req: FastifyRequest): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== SESSION_COOKIE) continue;
    try {
      return decodeURIComponent(part.slice(eq + 1).trim()) || undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** Refuses cookie-authenticated requests that could have been forged by another site. */
export function assertSameSite(req: FastifyRequest): void {
  const origin = req.headers.origin;
  if (origin !== undefined && !sameOrigin(origin, req.headers.host)) {
    throw new ApiError('forbidden', `requests from ${origin} cannot use the dashboard's login; send an Authorization header instead`);
  }
  const upgrading = req.headers.upgrade?.toLowerCase() === 'websocket';
  if (upgrading && origin === undefined) {
    throw new ApiError('forbidden', 'a WebSocket that uses the dashboard login must come from the dashboard (no Origin header)');
  }
  if (!upgrading && !SAFE_METHODS.has(req.method) && req.headers[CSRF_HEADER] !== '1') {
    throw new ApiError('forbidden', `a ${req.method} with the dashboard login needs the header X-Burrow-CSRF: 1`);
  }
}

export function sessionCookie(token: string, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; ${attributes(secure)}; Max-Age=${MAX_AGE_S}`;
}

export function clearedSessionCookie(secure: boolean): string {
  return `${SESSION_COOKIE}=; ${attributes(secure)}; Max-Age=0`;
}

function attributes(secure: boolean): string {
  return `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return host !== undefined && new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
