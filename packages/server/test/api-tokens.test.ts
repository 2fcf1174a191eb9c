import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attenuateToken, parseMacaroon, serializeMacaroon } from '@burrow/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TokenAuthority, TokenRefused, type RequestScope } from '../src/auth/api-tokens.js';
import { ensureKeyFile } from '../src/auth/root-key.js';
import { ApiTokenStore } from '../src/db/api-tokens.js';
import { openDatabase, type Db } from '../src/db/database.js';

let dir: string;
let db: Db;
let now: number;
let authority: TokenAuthority;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-tokens-'));
  db = openDatabase(join(dir, 'db.sqlite'));
  now = Date.parse('2030-06-01T12:00:00Z');
  authority = new TokenAuthority(await ensureKeyFile(join(dir, 'token.key')), new ApiTokenStore(db), () => now);
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

function allowed(token: string, scope: RequestScope): boolean {
  try {
    authority.authorize(authority.authenticate(token), scope);
    return true;
  } catch (e) {
    if (e instanceof TokenRefused) return false;
    throw e;
  }
}

describe('API tokens', () => {
  it('keeps the root key in a 0600 file and reuses it', async () => {
    const file = join(dir, 'token.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await ensureKeyFile(file)).toEqual(readFileSync(file));
  });

  it('lets an unrestricted token do everything', () => {
    const { token } = authority.mint({ description: 'all', caveats: [] });
    expect(allowed(token, { op: 'admin' })).toBe(true);
    expect(allowed(token, { op: 'exec', sandbox: 'dev' })).toBe(true);
  });

  it('never lets an attenuated token exceed its caveats', () => {
    const { token } = authority.mint({ description: 'dev', caveats: ['sandbox-prefix = agent-'] });
    const exec = attenuateToken(token, { sandbox: 'agent-1', ops: ['exec', 'read'] });
    expect(allowed(exec, { op: 'exec', sandbox: 'agent-1' })).toBe(true);
    expect(allowed(exec, { op: 'read', sandbox: 'agent-1' })).toBe(true);
    expect(allowed(exec, { op: 'write', sandbox: 'agent-1' })).toBe(false);
    expect(allowed(exec, { op: 'exec', sandbox: 'agent-2' })).toBe(false);
    expect(allowed(exec, { op: 'admin' })).toBe(false);
    // Adding a wider caveat later does not widen it: every caveat must hold.
    const wider = attenuateToken(exec, { sandbox: 'other', ops: ['admin'] });
    expect(allowed(wider, { op: 'admin', sandbox: 'other' })).toBe(false);
    expect(allowed(wider, { op: 'exec', sandbox: 'agent-1' })).toBe(false);
  });

  it('limits listings to the prefix a sandbox-prefix caveat allows', () => {
    const { token } = authority.mint({ description: '', caveats: ['sandbox-prefix = agent-'] });
    expect(allowed(token, { op: 'read', listPrefix: 'agent-' })).toBe(true);
    expect(allowed(token, { op: 'read', listPrefix: 'agent-a' })).toBe(true);
    expect(allowed(token, { op: 'read', listPrefix: '' })).toBe(false);
    const one = attenuateToken(token, { sandbox: 'agent-1' });
    expect(allowed(one, { op: 'read', listPrefix: 'agent-1' })).toBe(false);
  });

  it('honours expires and not-before', () => {
    const { token } = authority.mint({ description: '', caveats: [] });
    const window = attenuateToken(token, { notBefore: new Date(now + 60_000), expires: new Date(now + 120_000) });
    expect(allowed(window, { op: 'read', sandbox: 'x' })).toBe(false);
    now += 90_000;
    expect(allowed(window, { op: 'read', sandbox: 'x' })).toBe(true);
    now += 60_000;
    expect(allowed(window, { op: 'read', sandbox: 'x' })).toBe(false);
  });

  it('fails closed on unknown or malformed caveats', () => {
    const { token } = authority.mint({ description: '', caveats: [] });
    for (const caveat of ['color = blue', 'no equals sign', 'expires = tomorrow', 'host = example.com']) {
      expect(allowed(attenuateToken(token, [caveat]), { op: 'read', sandbox: 'dev' })).toBe(false);
    }
  });

  it('refuses tampered tokens', () => {
    const { token } = authority.mint({ description: '', caveats: ['sandbox = dev'] });
    const m = parseMacaroon(token);
    const dropped = serializeMacaroon({ ...m, caveats: [] });
    const edited = serializeMacaroon({ ...m, caveats: ['sandbox = prod'] });
    const flipped = Buffer.from(token, 'base64url');
    flipped[flipped.length - 1]! ^= 1;
    for (const bad of [dropped, edited, flipped.toString('base64url'), 'garbage', `${token}x`]) {
      expect(() => authority.authenticate(bad)).toThrow(TokenRefused);
    }
  });

  it('refuses revoked tokens and every token attenuated from them', () => {
    const { token, record } = authority.mint({ description: '', caveats: [] });
    const child = attenuateToken(token, { ops: ['read'] });
    authority.revoke(record.id);
    expect(() => authority.authenticate(token)).toThrow(/revoked/);
    expect(() => authority.authenticate(child)).toThrow(/revoked/);
    expect(authority.list().find((t) => t.id === record.id)?.revokedAt).toBeTruthy();
  });

  it('revoking a token revokes every token minted from it, however deep, and nothing else', () => {
    const parent = authority.mint({ description: 'parent', caveats: [] });
    const child = authority.mint({ description: 'child', caveats: [], parentId: parent.record.id });
    const grandchild = authority.mint({ description: 'grandchild', caveats: [], parentId: child.record.id });
    const sibling = authority.mint({ description: 'sibling', caveats: [] });
    const heard: string[][] = [];
    authority.onRevoke((ids) => heard.push([...ids].sort()));

    expect(authority.revoke(child.record.id).sort()).toEqual([child.record.id, grandchild.record.id].sort());
    expect(() => authority.authenticate(grandchild.token)).toThrow(/revoked/);
    expect(() => authority.authenticate(attenuateToken(grandchild.token, { ops: ['read'] }))).toThrow(/revoked/);
    expect(authority.authenticate(parent.token).id).toBe(parent.record.id);

    now += 1000;
    expect(authority.revoke(parent.record.id)).toEqual([parent.record.id]);
    expect(authority.get(grandchild.record.id)?.revokedAt).toBe(new Date(now - 1000).toISOString());
    expect(authority.authenticate(sibling.token).id).toBe(sibling.record.id);
    expect(heard).toEqual([[child.record.id, grandchild.record.id].sort(), [parent.record.id]]);
    expect(authority.get(child.record.id)?.parentId).toBe(parent.record.id);
  });

  describe('a sandbox re-created under the name of the one a token names is another sandbox', () => {
    const sandboxes = new Map<string, { id: string; createdAt: string }>();
    const create = (name: string) => sandboxes.set(name, { id: `sbx-${sandboxes.size}-${now}`, createdAt: new Date(now).toISOString() });
    const recreate = (name: string) => {
      sandboxes.delete(name);
      now += 60_000;
      create(name);
    };
    let bound: TokenAuthority;
    const allows = (token: string, scope: RequestScope) => {
      try {
        bound.authorize(bound.authenticate(token), scope);
        return true;
      } catch (e) {
        if (e instanceof TokenRefused) return false;
        throw e;
      }
    };
    beforeEach(async () => {
      sandboxes.clear();
      bound = new TokenAuthority(await ensureKeyFile(join(dir, 'token.key')), new ApiTokenStore(db), () => now, (n) => sandboxes.get(n));
    });

    it('a minted token is bound to the sandbox id', () => {
      create('dev');
      now += 1000;
      const caveats = bound.bindSandboxes(['ops = exec', 'sandbox = dev']);
      expect(caveats).toEqual(['ops = exec', 'sandbox = dev', `sandbox-id = ${sandboxes.get('dev')!.id}`]);
      const { token } = bound.mint({ description: '', caveats });
      expect(allows(token, { op: 'exec', sandbox: 'dev' })).toBe(true);
      recreate('dev');
      expect(allows(token, { op: 'exec', sandbox: 'dev' })).toBe(false);
      expect(() => bound.authorize(bound.authenticate(token), { op: 'exec', sandbox: 'dev' })).toThrow(/another sandbox of that name/);
    });

    it('minting for a sandbox that does not exist is refused', () => {
      expect(() => bound.bindSandboxes(['sandbox = nowhere'])).toThrow(/no sandbox 'nowhere'/);
    });

    it('an offline attenuation names the sandbox that existed when it was made', () => {
      const { token } = bound.mint({ description: 'old', caveats: [] });
      now += 3_600_000;
      create('dev');
      now += 1000;
      const scoped = attenuateToken(token, { sandbox: 'dev' }, new Date(now));
      expect(allows(scoped, { op: 'exec', sandbox: 'dev' })).toBe(true);
      recreate('dev');
      expect(allows(scoped, { op: 'exec', sandbox: 'dev' })).toBe(false);
    });

    it('a bare name is the sandbox of the time the token was minted, and no caveat can move that time', () => {
      create('early');
      now += 1000;
      const { token } = bound.mint({ description: '', caveats: [] });
      now += 1000;
      create('late');
      const early = attenuateToken(token, ['sandbox = early']);
      const late = attenuateToken(token, ['sandbox = late']);
      expect(allows(early, { op: 'read', sandbox: 'early' })).toBe(true);
      expect(allows(late, { op: 'read', sandbox: 'late' })).toBe(false);
      expect(allows(attenuateToken(late, ['sandbox = late @ 2100-01-01T00:00:00Z']), { op: 'read', sandbox: 'late' })).toBe(false);
      // A create names a sandbox that does not exist yet.
      sandboxes.delete('late');
      expect(allows(late, { op: 'write', sandbox: 'late' })).toBe(true);
    });
  });

  it('writes a 0600 admin token, keeps it across starts and replaces a stale one', async () => {
    const file = join(dir, 'admin.token');
    const first = await authority.ensureAdminToken(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await authority.ensureAdminToken(file)).toBe(first);
    expect(allowed(first, { op: 'admin' })).toBe(true);
    writeFileSync(file, 'burrow_old-format-token\n');
    const second = await authority.ensureAdminToken(file);
    expect(second).not.toBe(first);
    expect(readFileSync(file, 'utf8').trim()).toBe(second);
  });
});
