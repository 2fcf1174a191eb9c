import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Secrets } from '../src/core/secrets.js';
import { openDatabase, type Db } from '../src/db/database.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';
import { SecretStore } from '../src/db/secrets.js';
import { Placeholders } from '../src/egress/placeholders.js';
import { SecretSealer } from '../src/egress/secret-sealing.js';

let dir: string;
let db: Db;
let secrets: Secrets;
let store: SecretStore;
const sandboxes = new Map<string, SandboxRecord>();

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-secrets-'));
  db = openDatabase(join(dir, 'db.sqlite'));
  store = new SecretStore(db);
  sandboxes.clear();
  sandboxes.set('dev', { id: 'sb-dev', name: 'dev' } as SandboxRecord);
  const placeholders = new Placeholders(Buffer.alloc(32, 3), (id) => secrets.grantForPlaceholder(id));
  secrets = new Secrets({
    store,
    sealer: new SecretSealer(Buffer.alloc(32, 9)),
    placeholders,
    sandboxes: { byName: (name) => sandboxes.get(name) },
    filesDir: join(dir, 'grants'),
    now: () => Date.parse('2030-01-01T00:00:00Z'),
  });
});
afterEach(() => {
  db.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('secrets', () => {
  it('stores values sealed and never shows them', () => {
    const view = secrets.add('gh', { hosts: ['api.github.com'], inject: 'Authorization: token {}', value: 'ghp_REAL' });
    expect(JSON.stringify(view)).not.toContain('ghp_REAL');
    expect(store.get('gh')!.sealed.includes(Buffer.from('ghp_REAL'))).toBe(false);
    expect(readFileSync(join(dir, 'db.sqlite')).includes(Buffer.from('ghp_REAL'))).toBe(false);
    expect(secrets.secretForUse('gh')?.value).toBe('ghp_REAL');
  });

  it('refuses bad names, hosts and inject templates', () => {
    expect(() => secrets.add('Bad/Name', { hosts: ['a.com'], inject: 'Authorization: {}', value: 'v' })).toThrow(/secret name/);
    expect(() => secrets.add('ok', { hosts: ['a b'], inject: 'Authorization: {}', value: 'v' })).toThrow(/hosts/);
    expect(() => secrets.add('ok', { hosts: ['a.com'], inject: 'Authorization: Bearer', value: 'v' })).toThrow(/inject/);
  });

  it('grants a placeholder as a file and an environment variable, with the grant caveats', async () => {
    secrets.add('gh', { hosts: ['api.github.com'], inject: 'Authorization: token {}', value: 'ghp_REAL' });
    const { placeholder, grant } = await secrets.grant('gh', 'dev', { envVar: 'GH_TOKEN', ttlMs: 3600_000 });
    expect(grant.caveats).toEqual(['sandbox = dev', 'secret = gh', 'host = api.github.com', 'expires = 2030-01-01T01:00:00Z']);
    expect(readFileSync(join(dir, 'grants', 'sb-dev', 'gh'), 'utf8')).toBe(`${placeholder}\n`);
    expect(secrets.environmentOf('sb-dev')).toEqual({ GH_TOKEN: placeholder });
    await secrets.revoke('gh', 'dev');
    expect(readdirSync(join(dir, 'grants', 'sb-dev'))).toEqual([]);
    expect(secrets.environmentOf('sb-dev')).toEqual({});
    expect(secrets.grantForPlaceholder(grant.id)?.revoked).toBe(true);
  });

  it('fills hosts and header from a preset, and a grant sets the variable its tool reads', async () => {
    const view = secrets.add('claude', { preset: 'anthropic', value: 'sk-ant-REAL' });
    expect(view).toMatchObject({ hosts: ['api.anthropic.com'], inject: 'x-api-key: {}', preset: 'anthropic' });
    const { placeholder } = await secrets.grant('claude', 'dev', {});
    expect(secrets.environmentOf('sb-dev')).toEqual({ ANTHROPIC_API_KEY: placeholder });
  });

  it('sets every variable of a preset whose tools read different ones, unless told one', async () => {
    secrets.add('openai', { preset: 'openai', value: 'sk-proj-REAL' });
    const { placeholder } = await secrets.grant('openai', 'dev', {});
    expect(secrets.environmentOf('sb-dev')).toEqual({ OPENAI_API_KEY: placeholder, CODEX_API_KEY: placeholder });
    await secrets.grant('openai', 'dev', { envVar: 'MY_KEY' });
    expect(Object.keys(secrets.environmentOf('sb-dev'))).toEqual(['MY_KEY']);
  });

  it('gives git a credential helper for a github preset, reading the placeholder file', async () => {
    secrets.add('gh', { preset: 'github', value: 'ghp_REAL' });
    const { placeholder } = await secrets.grant('gh', 'dev', {});
    const env = secrets.environmentOf('sb-dev');
    expect(env).toMatchObject({ GH_TOKEN: placeholder, GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'credential.https://github.com.helper' });
    expect(env.GIT_CONFIG_VALUE_0).toContain('username=x-access-token');
    expect(env.GIT_CONFIG_VALUE_0).toContain('/.burrow/secrets/gh');
  });

  it('repairs files after a crash and forgets grants of sandboxes that are gone', async () => {
    secrets.add('gh', { hosts: ['api.github.com'], inject: 'Authorization: token {}', value: 'ghp_REAL' });
    const { placeholder } = await secrets.grant('gh', 'dev', {});
    rmSync(join(dir, 'grants', 'sb-dev', 'gh'));
    mkdirSync(join(dir, 'grants', 'sb-gone'), { recursive: true });
    writeFileSync(join(dir, 'grants', 'sb-gone', 'gh'), 'old');
    const forgotten = await secrets.repair((id) => id === 'sb-dev');
    expect(forgotten).toEqual(['sb-gone']);
    expect(readFileSync(join(dir, 'grants', 'sb-dev', 'gh'), 'utf8')).toBe(`${placeholder}\n`);
    expect(existsSync(join(dir, 'grants', 'sb-gone'))).toBe(false);
  });
});

describe('the egress audit log', () => {
  it('keeps only the newest entries', () => {
    const small = new SecretStore(db, 10);
    for (let i = 0; i < 250; i++) {
      small.audit({ at: new Date().toISOString(), sandbox: 'dev', secret: 's', host: 'h', method: 'GET', path: `/${i}`, status: 200, outcome: 'injected' });
    }
    const entries = small.auditLog({ limit: 1000 });
    expect(entries.length).toBeLessThanOrEqual(10 + 100);
    expect(entries.at(-1)?.path).toBe('/249');
  });
});
