// The dashboard's credential: the same API token a client sends as `Authorization: Bearer`, kept
// server-side (auth/browser-sessions.ts); the browser holds only a random session id, in an
// HttpOnly, SameSite=Strict cookie so page scripts never hold even that. The session ends after a
// week, at logout, or as soon as its token is refused (revoked, expired). A cookie
// travels with every request to this host, so cookie-authenticated requests must also prove they
// come from the dashboard itself: state-changing calls carry a custom header (which a cross-site
// form cannot send, and which fetch from another origin cannot send without a CORS preflight we
// never grant), and WebSocket upgrades, which browsers cannot add headers to, carry our Origin.
import type { FastifyRequest } from 'fastify';
import type { BrowserSessions } from '../../auth/browser-sessions.js';
import { ApiError } from '../errors.js';
import { cookieValues } from '../burrow-credentials.js';

export const SESSION_COOKIE = 'burrow_session';
export const CSRF_HEADER = 'x-burrow-csrf';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** A browser session lasts a week; the token itself may expire sooner. */
const MAX_AGE_S = 7 * 24 * 3600;

export class DashboardLogins {
  constructor(private readonly sessions: BrowserSessions) {}

  /** The token of the request's live session, or undefined when it has none. */
  tokenOf(req: FastifyRequest): string | undefined {
    for (const id of cookieValues(req.headers.cookie, SESSION_COOKIE)) {
      const session = this.sessions.find('dashboard', id);
      if (session) return session.token;
    }
    return undefined;
  }

  /** Starts a session acting with `token` (already accepted); the Set-Cookie for it. */
  login(token: string, secure: boolean): string {
    const { id } = this.sessions.open('dashboard', token, MAX_AGE_S * 1000);
    return `${SESSION_COOKIE}=${id}; ${attributes(secure)}; Max-Age=${MAX_AGE_S}`;
  }

  /** Ends the request's session; the Set-Cookie that clears the browser's. */
  logout(req: FastifyRequest, secure: boolean): string {
    for (const id of cookieValues(req.headers.cookie, SESSION_COOKIE)) this.sessions.close(id);
    return `${SESSION_COOKIE}=; ${attributes(secure)}; Max-Age=0`;
  }
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
