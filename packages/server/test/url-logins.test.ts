// Logins to sandbox URLs with a real token authority and SQLite, and a clock the test moves: each
// login is its own cookie, logins expire on the server, end at logout and with their token.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenAuthority } from '../src/auth/api-tokens.js';
import { BrowserSessions } from '../src/auth/browser-sessions.js';
import { ensureKeyFile } from '../src/auth/root-key.js';
import { UrlAccess, LOGIN_LIFETIME_MS } from '../src/api/urls/url-access.js';
import { ApiTokenStore } from '../src/db/api-tokens.js';
import { BrowserSessionStore } from '../src/db/browser-sessions.js';
import { openDatabase, type Db } from '../src/db/database.js';

let dir: string;
let db: Db;
let now: number;
let tokens: TokenAuthority;
let access: UrlAccess;
const sandbox = { id: 'sbx-1', name: 'web' };

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-url-logins-'));
  db = openDatabase(join(dir, 'db.sqlite'));
  now = Date.parse('2030-06-01T12:00:00Z');
  tokens = new TokenAuthority(await ensureKeyFile(join(dir, 'token.key')), new ApiTokenStore(db), () => now);
  const sessions = new BrowserSessions(new BrowserSessionStore(db), () => now);
  access = new UrlAccess(sessions, (token, name) => {
    try {
      tokens.authorize(tokens.authenticate(token), { op: 'exec', sandbox: name });
      return true;
    } catch {
      return false;
    }
  });
  tokens.onRevoke(() => access.forgetTokenChecks());
  sessions.endWithRevokedTokens(tokens);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Logs in with a fresh link asked for with `token`; the Cookie header a browser then sends. */
function logIn(token: string): string {
  const { ticket } = access.ticket(sandbox.id, token);
  const setCookie = access.login(sandbox, ticket);
  expect(setCookie).toBeDefined();
  return setCookie!.split(';')[0]!;
}

const opens = (cookie: string) => access.opens(sandbox, { cookie: `theme=dark; ${cookie}` });

describe('a login to a sandbox URL', () => {
  it('is a different random cookie for every login, none of them the token', () => {
    const { token } = tokens.mint({ description: 'web', caveats: [] });
    const cookies = [logIn(token), logIn(token), logIn(token)];
    expect(new Set(cookies).size).toBe(3);
    for (const cookie of cookies) {
      expect(cookie).toMatch(/^burrow_url_auth=[\w-]{43}$/);
      expect(cookie).not.toContain(token);
      expect(opens(cookie)).toBe(true);
    }
  });

  it('expires on the server after a day, whatever the browser keeps', () => {
    const { token } = tokens.mint({ description: 'web', caveats: [] });
    const { ticket } = access.ticket(sandbox.id, token);
    const setCookie = access.login(sandbox, ticket)!;
    expect(setCookie).toContain(`Max-Age=${LOGIN_LIFETIME_MS / 1000}`);
    const cookie = setCookie.split(';')[0]!;
    now += LOGIN_LIFETIME_MS - 1;
    expect(opens(cookie)).toBe(true);
    now += 1;
    expect(opens(cookie)).toBe(false);
  });

  it('takes a login link for ten minutes only', () => {
    const { token } = tokens.mint({ description: 'web', caveats: [] });
    const { ticket, expiresAt } = access.ticket(sandbox.id, token);
    expect(expiresAt.getTime()).toBe(now + 600_000);
    now += 600_000;
    expect(access.login(sandbox, ticket)).toBeUndefined();
  });

  it('opens only the sandbox it was made for', () => {
    const { token } = tokens.mint({ description: 'web', caveats: [] });
    const cookie = logIn(token);
    expect(access.opens({ id: 'sbx-2', name: 'other' }, { cookie })).toBe(false);
    // A sandbox made later under the same name is another sandbox.
    expect(access.opens({ id: 'sbx-3', name: sandbox.name }, { cookie })).toBe(false);
    const { ticket } = access.ticket(sandbox.id, token);
    expect(access.login({ id: 'sbx-2', name: 'other' }, ticket)).toBeUndefined();
  });

  it('ends at logout, that login and no other', () => {
    const { token } = tokens.mint({ description: 'web', caveats: [] });
    const [leaving, staying] = [logIn(token), logIn(token)];
    expect(access.logout({ cookie: `a=1; ${leaving}` })).toMatch(/^burrow_url_auth=; .*Max-Age=0$/);
    expect(opens(leaving)).toBe(false);
    expect(opens(staying)).toBe(true);
  });

  it('ends when the token that asked for the link is revoked, and so does the link', () => {
    const revoked = tokens.mint({ description: 'revoked', caveats: [] });
    const kept = tokens.mint({ description: 'kept', caveats: [] });
    const cookie = logIn(revoked.token);
    const other = logIn(kept.token);
    const { ticket } = access.ticket(sandbox.id, revoked.token);
    expect(opens(cookie)).toBe(true);
    tokens.revoke(revoked.record.id);
    expect(opens(cookie)).toBe(false);
    expect(access.login(sandbox, ticket)).toBeUndefined();
    expect(opens(other)).toBe(true);
    // The rows are gone, not merely refused.
    const left = db.prepare('SELECT token FROM browser_sessions').all() as Array<{ token: string }>;
    expect(left.map((r) => r.token)).not.toContain(revoked.token);
  });

  it('needs a token that may reach into the sandbox', () => {
    const { token } = tokens.mint({ description: 'elsewhere', caveats: ['sandbox = other'] });
    const { ticket } = access.ticket(sandbox.id, token);
    expect(access.login(sandbox, ticket)).toBeUndefined();
  });
});
