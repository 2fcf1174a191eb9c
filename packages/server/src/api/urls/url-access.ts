// Who may open a sandbox's URL when its auth is `sprite`: a request with an API token as a
// Bearer header, or a browser logged in through a login link. The link carries a ticket and the
// browser's cookie a login id: both random, kept server-side (auth/browser-sessions.ts) with the
// sandbox's id and the token that asked for the link, and both good only while that token still
// opens the sandbox. A login thus ends after LOGIN_LIFETIME_MS, at logout (LOGOUT_PATH), or
// when its token is revoked; a login for one sandbox (or for an earlier sandbox of the same
// name) opens nothing else.
import type { IncomingHttpHeaders } from 'node:http';
import type { BrowserSessions } from '../../auth/browser-sessions.js';
import { bearerToken, cookieValues } from '../burrow-credentials.js';

export const COOKIE_NAME = 'burrow_url_auth';
export const LOGIN_PATH = '/__burrow/login';
export const LOGOUT_PATH = '/__burrow/logout';
const TICKET_LIFETIME_MS = 10 * 60_000;
/** A browser stays logged in to a sandbox URL for a day (and no longer than its token lives). */
export const LOGIN_LIFETIME_MS = 24 * 3600_000;
const VERIFIED_TTL_MS = 5_000;
const VERIFIED_MAX = 1_000;

type Headers = Pick<IncomingHttpHeaders, 'authorization' | 'cookie'>;

export class UrlAccess {
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly sessions: BrowserSessions,
    /** Whether an API token may reach into the named sandbox. */
    private readonly verifyToken: (token: string, sandbox: string) => boolean,
  ) {}

  /** A login ticket for `sandboxId`, valid for ten minutes, acting with `token`. */
  ticket(sandboxId: string, token: string): { ticket: string; expiresAt: Date } {
    const { id, expiresAt } = this.sessions.open('url-ticket', token, TICKET_LIFETIME_MS, sandboxId);
    return { ticket: id, expiresAt: new Date(expiresAt) };
  }

  /** Logs a browser in with a ticket: the Set-Cookie of a new login, or undefined if the ticket does not open this sandbox. */
  login(sandbox: { id: string; name: string }, ticket: string): string | undefined {
    const found = this.sessions.find('url-ticket', ticket);
    if (found?.sandboxId !== sandbox.id || !this.tokenAllows(found.token, sandbox.name)) return undefined;
    const login = this.sessions.open('url-login', found.token, LOGIN_LIFETIME_MS, sandbox.id);
    return cookie(login.id, LOGIN_LIFETIME_MS / 1000);
  }

  /** Ends the request's logins; the Set-Cookie that clears the browser's. */
  logout(headers: Headers): string {
    for (const id of cookieValues(headers.cookie, COOKIE_NAME)) this.sessions.close(id);
    return cookie('', 0);
  }

  /** Whether the request carries a token or a login that opens the sandbox's URL. */
  opens(sandbox: { id: string; name: string }, headers: Headers): boolean {
    const token = bearerToken(headers.authorization);
    if (token !== undefined && this.tokenAllows(token, sandbox.name)) return true;
    return cookieValues(headers.cookie, COOKIE_NAME).some((id) => {
      const login = this.sessions.find('url-login', id);
      return login?.sandboxId === sandbox.id && this.tokenAllows(login.token, sandbox.name);
    });
  }

  /**
   * Token checks are remembered for a few seconds: a browser or client sends the same token with
   * every request, and checking it (signature, database) costs more than relaying the request.
   * A revocation forgets them all (forgetTokenChecks); a token's own expiry caveat may be
   * honoured up to VERIFIED_TTL_MS late.
   */
  private tokenAllows(token: string, sandbox: string): boolean {
    const key = `${sandbox}\0${token}`;
    const until = this.verified.get(key);
    if (until !== undefined && until > Date.now()) return true;
    if (!this.verifyToken(token, sandbox)) return false;
    if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
    this.verified.set(key, Date.now() + VERIFIED_TTL_MS);
    return true;
  }

  /** Forgets every remembered token check (a token was revoked). */
  forgetTokenChecks(): void {
    this.verified.clear();
  }
}

/** The login cookie: HttpOnly, host-only (no Domain), sent on top-level navigation from elsewhere. */
function cookie(value: string, maxAgeS: number): string {
  return `${COOKIE_NAME}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeS}`;
}
