// The E2B adapter's tokens: the envdAccessToken handed out is the API key narrowed to one
// sandbox, so it never allows more than the key, nor anything on another sandbox (or on a later
// sandbox given the same name).
import { mkdtempSync, rmSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attenuateToken } from '@burrow/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { E2bAccess } from '../src/api/public/e2b/access.js';
import { E2bHttpError } from '../src/api/public/e2b/http.js';
import { TokenAuthority } from '../src/auth/api-tokens.js';
import { ensureKeyFile } from '../src/auth/root-key.js';
import { ApiTokenStore } from '../src/db/api-tokens.js';
import { openDatabase, type Db } from '../src/db/database.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';

let dir: string;
let db: Db;
let access: E2bAccess;
let admin: string;
const sandboxes = new Map<string, { id: string; createdAt: string }>();

const record = (name: string) => ({ name, ...sandboxes.get(name)! }) as SandboxRecord;
const request = (token: string | undefined) => ({ headers: token === undefined ? {} : { 'x-access-token': token } }) as IncomingMessage;
const allowed = (token: string, sandbox: string, op: 'read' | 'write' | 'exec') => {
  try {
    access.envdToken(request(token), sandbox, op);
    return true;
  } catch (e) {
    if (e instanceof E2bHttpError && e.status === 401) return false;
    throw e;
  }
};

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-e2b-access-'));
  db = openDatabase(join(dir, 'db.sqlite'));
  const authority = new TokenAuthority(await ensureKeyFile(join(dir, 'token.key')), new ApiTokenStore(db), Date.now, (name) => sandboxes.get(name));
  admin = authority.mint({ description: 'admin', caveats: [], isAdmin: true }).token;
  access = new E2bAccess(authority);
  const earlier = new Date(Date.now() - 1_000).toISOString();
  sandboxes.set('e2b-one', { id: 'id-one', createdAt: earlier });
  sandboxes.set('e2b-two', { id: 'id-two', createdAt: earlier });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('the envd access token', () => {
  it('allows everything the key does, on its own sandbox only', () => {
    const token = access.envdTokenFor(admin, record('e2b-one'));
    expect(allowed(token, 'e2b-one', 'exec')).toBe(true);
    expect(allowed(token, 'e2b-one', 'write')).toBe(true);
    expect(allowed(token, 'e2b-two', 'read')).toBe(false);
  });

  it('never allows more than the key', () => {
    const readOnly = attenuateToken(admin, { ops: ['read'] });
    const token = access.envdTokenFor(readOnly, record('e2b-one'));
    expect(allowed(token, 'e2b-one', 'read')).toBe(true);
    expect(allowed(token, 'e2b-one', 'exec')).toBe(false);
    expect(allowed(token, 'e2b-one', 'write')).toBe(false);
  });

  it('is refused for a sandbox re-created under the same name', () => {
    const token = access.envdTokenFor(admin, record('e2b-one'));
    sandboxes.set('e2b-one', { id: 'id-new', createdAt: new Date(Date.now() + 1_000).toISOString() });
    expect(allowed(token, 'e2b-one', 'read')).toBe(false);
  });

  it('is required, and must be a token of this server', () => {
    expect(allowed(undefined as unknown as string, 'e2b-one', 'read')).toBe(false);
    expect(allowed('not-a-token', 'e2b-one', 'read')).toBe(false);
  });
});

describe('the API key', () => {
  it('is required, as X-API-KEY, and answers 401 in E2B’s shape otherwise', () => {
    expect(() => access.apiKey({ headers: {} } as IncomingMessage)).toThrow(E2bHttpError);
    expect(access.apiKey({ headers: { 'x-api-key': admin } } as unknown as IncomingMessage).token).toBe(admin);
  });

  it('refuses what its caveats do not allow with 403', () => {
    const other = attenuateToken(admin, { sandbox: 'e2b-two' });
    const { bearer } = access.apiKey({ headers: { 'x-api-key': other } } as unknown as IncomingMessage);
    expect(() => access.authorize(bearer, { op: 'read', sandbox: 'e2b-one' })).toThrow(expect.objectContaining({ status: 403 }));
    expect(access.allows(bearer, { op: 'read', sandbox: 'e2b-two' })).toBe(true);
  });
});
