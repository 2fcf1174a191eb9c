// Who may open a sandbox's URL when its auth is `sprite`: a request with the API token as a
// Bearer header, or a browser holding the cookie that a login link set. Cookies and login
// tickets are HMACs keyed by the token root key and bound to the sandbox's id, so a cookie for one
// sandbox (or for an earlier sandbox of the same name) opens nothing else.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const COOKIE_NAME = 'burrow_url_auth';
export const LOGIN_PATH = '/__burrow/login';
const TICKET_LIFETIME_S = 600;
const VERIFIED_TTL_MS = 5_000;
const VERIFIED_MAX = 1_000;

export class UrlAccess {
  private readonly verified = new Map<string, number>();

  constructor(
    private readonly key: Buffer,
    /** Whether an API token may reach into the named sandbox. */
    private readonly verifyToken: (token: string, sandbox: string) => boolean,
  ) {}

  /** A login ticket for `sandboxId`, valid for ten minutes. */
  ticket(sandboxId: string, now = Date.now()): { ticket: string; expiresAt: Date } {
    const expiry = Math.floor(now / 1000) + TICKET_LIFETIME_S;
    return { ticket: `${expiry}.${this.mac(`login\0${sandboxId}\0${expiry}`)}`, expiresAt: new Date(expiry * 1000) };
  }

  ticketValid(sandboxId: string, ticket: string, now = Date.now()): boolean {
    const m = /^(\d{1,12})\.([A-Za-z0-9_-]{43})$/.exec(ticket);
    if (!m || Number(m[1]) * 1000 < now) return false;
    return same(m[2]!, this.mac(`login\0${sandboxId}\0${m[1]}`));
  }

  cookieValue(sandboxId: string): string {
    return this.mac(`cookie\0${sandboxId}`);
  }

  /** Set-Cookie for a sandbox host: HttpOnly, host-only (no Domain), a week. */
  setCookie(sandboxId: string): string {
    return `${COOKIE_NAME}=${this.cookieValue(sandboxId)}; Path=/; HttpOnly; SameSite=Lax; Max-Age=604800`;
  }

  /** How the request proved it may open the sandbox's URL, or null. */
  credential(sandbox: { id: string; name: string }, headers: Pick<IncomingHttpHeaders, 'authorization' | 'cookie'>): 'token' | 'cookie' | null {
    const bearer = /^Bearer\s+(\S+)$/i.exec(headers.authorization ?? '');
    if (bearer && this.tokenAllows(bearer[1]!, sandbox.name)) return 'token';
    const cookie = cookiesOf(headers)[COOKIE_NAME];
    return cookie !== undefined && same(cookie, this.cookieValue(sandbox.id)) ? 'cookie' : null;
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

  /** The request's headers minus burrow's own credentials: the app inside never sees them. */
  stripCredentials(headers: IncomingHttpHeaders, credential: 'token' | 'cookie' | null): IncomingHttpHeaders {
    const out = { ...headers };
    if (credential === 'token') delete out.authorization;
    if (headers.cookie) {
      const kept = withoutBurrowCookie(headers.cookie);
      if (kept) out.cookie = kept;
      else delete out.cookie;
    }
    return out;
  }

  private mac(message: string): string {
    return createHmac('sha256', this.key).update(`burrow-url\0${message}`).digest('base64url');
  }
}

/** A Cookie header's value without burrow's own cookie, which the app inside never sees. */
export function withoutBurrowCookie(value: string): string {
  return value
    .split(';')
    .map((c) => c.trim())
    .filter((c) => c && !c.startsWith(`${COOKIE_NAME}=`))
    .join('; ');
}

function cookiesOf(headers: Pick<IncomingHttpHeaders, 'cookie'>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of (headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  return out;
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
