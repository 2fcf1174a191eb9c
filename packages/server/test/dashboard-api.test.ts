// The dashboard's side of the API with a fake sandbox manager: assets served without a token,
// the login cookie (a server-side session) and its CSRF and Origin rules, Bearer tokens
// unchanged, and the live NDJSON list.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApi, type ApiDeps } from '../src/api/public/app.js';
import { DashboardAssets } from '../src/api/public/dashboard-assets.js';
import { DashboardLogins } from '../src/api/public/dashboard-auth.js';
import { BrowserSessions } from '../src/auth/browser-sessions.js';
import { BrowserSessionStore } from '../src/db/browser-sessions.js';
import { Activity } from '../src/core/activity.js';
import { TokenAuthority } from '../src/auth/api-tokens.js';
import { ensureKeyFile } from '../src/auth/root-key.js';
import { Metrics } from '../src/core/metrics.js';
import type { SandboxManager } from '../src/core/sandbox-manager.js';
import { ApiTokenStore } from '../src/db/api-tokens.js';
import { openDatabase, type Db } from '../src/db/database.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';

let dir: string;
let db: Db;
let app: FastifyInstance;
let token: string;
let tokens: TokenAuthority;
/** How far the sessions' clock is ahead of the real one. */
let clockAhead = 0;
const records = new Map<string, SandboxRecord>();

function record(name: string, status: SandboxRecord['status']): SandboxRecord {
  const now = new Date().toISOString();
  return {
    id: `id-${name}`, name, status, runtime: 'runc', image: 'dev-x', imageName: 'dev', cpus: 1, ramMb: 512, storageGb: 10,
    environment: {}, labels: [], urlSettings: { auth: 'sprite' }, failureReason: null,
    createdAt: now, updatedAt: now, lastRunningAt: now, lastWarmingAt: null, warmAfterMs: null, coldAfterMs: null, idBase: null,
  };
}

const manager = {
  list: () => [...records.values()],
  page: () => [...records.values()],
  counts: () => ({ running: [...records.values()].filter((r) => r.status === 'running').length, warm: 0, cold: 0, running_limit: 10, warm_limit: 10 }),
  get: (name: string) => records.get(name)!,
  exists: (name: string) => records.has(name),
} as unknown as SandboxManager;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-dashboard-'));
  const web = join(dir, 'web');
  mkdirSync(join(web, 'assets'), { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><script src="/assets/app-1a2b.js"></script>');
  writeFileSync(join(web, 'assets', 'app-1a2b.js'), 'console.log(1)');
  writeFileSync(join(dir, 'secret.txt'), 'not for the web');
  db = openDatabase(join(dir, 'db.sqlite'));
  tokens = new TokenAuthority(await ensureKeyFile(join(dir, 'token.key')), new ApiTokenStore(db));
  token = await tokens.ensureAdminToken(join(dir, 'admin.token'));
  records.set('alpha', record('alpha', 'running'));
  const sessions = new BrowserSessions(new BrowserSessionStore(db), () => Date.now() + clockAhead);
  sessions.endWithRevokedTokens(tokens);
  app = await buildApi({
    manager,
    tokens,
    dashboard: await DashboardAssets.load(web),
    dashboardLogins: new DashboardLogins(sessions),
    // No Host names a sandbox here, so every request reaches the API.
    urls: { addressOf: () => undefined },
    urlDomain: 'localhost',
    view: { isolationOf: () => 'runc', processLimitReached: () => false, sleepDefaults: { warmAfterMs: 30_000, coldAfterMs: 600_000 } },
    activity: new Activity(),
    defaults: { runtime: 'runc', image: 'dev', cpus: 1, ramMb: 512, storageGb: 10 },
    metrics: new Metrics({ sandboxCounts: () => ({}) }),
  } as unknown as ApiDeps);
  await app.listen({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await app?.close();
  db?.close();
  rmSync(dir, { recursive: true, force: true });
});

const login = (headers: Record<string, string>, body: object = { token }) =>
  app.inject({ method: 'POST', url: '/v1/dashboard/login', headers: { 'content-type': 'application/json', ...headers }, payload: body });

async function sessionCookie(body: object = { token }): Promise<string> {
  const r = await login({ 'x-burrow-csrf': '1' }, body);
  expect(r.statusCode).toBe(204);
  return String(r.headers['set-cookie']).split(';')[0]!;
}

describe('the dashboard assets', () => {
  it('are served without a token, the page uncached and the hashed assets forever', async () => {
    const page = await app.inject({ url: '/' });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.headers['cache-control']).toBe('no-cache');
    expect(page.headers['x-frame-options']).toBe('DENY');
    const js = await app.inject({ url: '/assets/app-1a2b.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toContain('text/javascript');
    expect(js.headers['cache-control']).toContain('immutable');
  });

  it('never reach files outside the build', async () => {
    for (const url of ['/assets/../../secret.txt', '/assets/%2e%2e/%2e%2e/secret.txt', '/assets/nope.js']) {
      const r = await app.inject({ url });
      // 404 for paths under /assets/; a client that resolves `..` first asks for /secret.txt (401).
      expect([401, 404]).toContain(r.statusCode);
      expect(r.body).not.toContain('not for the web');
    }
  });
});

describe('the login cookie', () => {
  it('is set only for a valid token and a request from the dashboard', async () => {
    expect((await login({})).statusCode).toBe(403);
    expect((await login({ 'x-burrow-csrf': '1', origin: 'http://evil.example' })).statusCode).toBe(403);
    const wrong = await login({ 'x-burrow-csrf': '1' }, { token: 'burrow_wrong' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json().message).toMatch(/not a burrow token.*admin\.token/);
    const ok = await login({ 'x-burrow-csrf': '1' });
    expect(ok.statusCode).toBe(204);
    expect(ok.headers['set-cookie']).toMatch(/^burrow_session=[^;]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  });

  it('authenticates reads, and writes only with the CSRF header', async () => {
    const cookie = await sessionCookie();
    expect((await app.inject({ url: '/v1/sprites', headers: { cookie } })).statusCode).toBe(200);
    const forged = await app.inject({ method: 'DELETE', url: '/v1/sprites/alpha', headers: { cookie } });
    expect(forged.statusCode).toBe(403);
    expect(forged.json()).toMatchObject({ error: 'forbidden' });
    expect(records.has('alpha')).toBe(true);
    const crossSite = await app.inject({ url: '/v1/sprites', headers: { cookie, origin: 'http://evil.example' } });
    expect(crossSite.statusCode).toBe(403);
  });

  it('is ignored when an Authorization header is sent, so Bearer behaves as before', async () => {
    const cookie = await sessionCookie();
    expect((await app.inject({ url: '/v1/sprites', headers: { cookie, authorization: 'Bearer nope' } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/sprites', headers: { authorization: `Bearer ${token}` } })).statusCode).toBe(200);
    expect((await app.inject({ url: '/v1/sprites' })).statusCode).toBe(401);
  });

  it('holds a new random session id for every login, never the token', async () => {
    const cookies = [await sessionCookie(), await sessionCookie()];
    for (const cookie of cookies) {
      expect(cookie).toMatch(/^burrow_session=[\w-]{43}$/);
      expect(cookie).not.toContain(token);
      expect(cookie).not.toContain(encodeURIComponent(token));
    }
    expect(cookies[0]).not.toBe(cookies[1]);
    // A cookie holding the token itself opens nothing.
    expect((await app.inject({ url: '/v1/sprites', headers: { cookie: `burrow_session=${token}` } })).statusCode).toBe(401);
  });

  it('is cleared by logging out, and its session ends on the server', async () => {
    const cookie = await sessionCookie();
    const other = await sessionCookie();
    const r = await app.inject({ method: 'POST', url: '/v1/dashboard/logout', headers: { cookie, 'x-burrow-csrf': '1' } });
    expect(r.statusCode).toBe(204);
    expect(r.headers['set-cookie']).toContain('Max-Age=0');
    expect((await app.inject({ url: '/v1/sprites', headers: { cookie } })).statusCode).toBe(401);
    expect((await app.inject({ url: '/v1/sprites', headers: { cookie: other } })).statusCode).toBe(200);
  });

  it('stops working when its token is revoked', async () => {
    const minted = tokens.mint({ description: 'dashboard revoke test', caveats: [] });
    const cookie = await sessionCookie({ token: minted.token });
    expect((await app.inject({ url: '/v1/sprites', headers: { cookie } })).statusCode).toBe(200);
    tokens.revoke(minted.record.id);
    const refused = await app.inject({ url: '/v1/sprites', headers: { cookie } });
    expect(refused.statusCode).toBe(401);
    expect(db.prepare('SELECT COUNT(*) AS n FROM browser_sessions WHERE token = ?').get(minted.token)).toEqual({ n: 0 });
  });

  it('expires on the server after a week, whatever the browser keeps', async () => {
    const cookie = await sessionCookie();
    try {
      clockAhead = 7 * 24 * 3600_000 - 60_000;
      expect((await app.inject({ url: '/v1/sprites', headers: { cookie } })).statusCode).toBe(200);
      clockAhead = 7 * 24 * 3600_000;
      expect((await app.inject({ url: '/v1/sprites', headers: { cookie } })).statusCode).toBe(401);
    } finally {
      clockAhead = 0;
    }
  });
});

describe('the live list (Accept: application/x-ndjson)', () => {
  it('sends every sandbox, then each change and each removal, with the org counters', async () => {
    const address = app.server.address() as { port: number };
    const controller = new AbortController();
    const response = await fetch(`http://127.0.0.1:${address.port}/v1/sprites`, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/x-ndjson' },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toBe('application/x-ndjson');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    const lines: Array<Record<string, unknown>> = [];
    const until = async (ok: () => boolean) => {
      while (!ok()) {
        const { value, done } = await reader.read();
        if (done) throw new Error('the stream ended');
        buffer += value;
        const parts = buffer.split('\n');
        buffer = parts.pop()!;
        lines.push(...parts.filter(Boolean).map((l) => JSON.parse(l)));
      }
    };
    await until(() => lines.some((l) => l.name === 'alpha'));
    expect(lines[0]).toMatchObject({ name: 'alpha', status: 'running', org: { name: 'local', running: 1 } });
    expect(typeof lines[0]!.timestamp).toBe('string');

    records.set('beta', record('beta', 'running'));
    records.set('alpha', { ...record('alpha', 'warm') });
    await until(() => lines.some((l) => l.name === 'beta') && lines.some((l) => l.name === 'alpha' && l.status === 'warm'));
    records.delete('beta');
    await until(() => lines.some((l) => l.name === 'beta' && l.status === 'destroyed'));
    controller.abort();
  });
});
