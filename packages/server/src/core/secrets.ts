// Secrets for the egress proxy: stored sealed, granted to sandboxes as placeholders (macaroons
// bound to one sandbox and one secret), revoked, and audited. The real value is opened only
// for the proxy, at the moment it injects it; a sandbox only ever sees its placeholders, in
// the environment variable it was granted and in /.burrow/secrets/NAME.
import { randomBytes } from 'node:crypto';
import { SECRET_PRESETS, type SecretPreset, type SecretPresetSpec } from '@burrow/protocol';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditEntry, GrantRecord, SecretStore } from '../db/secrets.js';
import { parseInject, type SecretForUse } from '../egress/injector.js';
import type { PlaceholderGrant, Placeholders } from '../egress/placeholders.js';
import type { SecretSealer } from '../egress/secret-sealing.js';
import type { SandboxStore } from '../db/sandboxes.js';
import { DomainError, SandboxNotFound } from './errors.js';

export const SECRET_NAME = /^[a-z0-9][a-z0-9_.-]{0,62}$/;
const HOST_PATTERN = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
/** Where a sandbox finds its placeholders, one file per secret. */
export const SECRETS_INSIDE = '/.burrow/secrets';

export interface SecretView {
  name: string;
  hosts: string[];
  inject: string;
  preset: SecretPreset | null;
  created_at: string;
  grants: Array<{ id: string; sandbox: string; env: string | null; caveats: string[]; created_at: string }>;
}

export interface SecretsDeps {
  store: SecretStore;
  sealer: SecretSealer;
  placeholders: Placeholders;
  /** Sandbox lookups by name (not the manager: its boot hooks are built from this). */
  sandboxes: Pick<SandboxStore, 'byName'>;
  /** Host directory holding one directory of placeholder files per sandbox. */
  filesDir: string;
  now?: () => number;
}

/**
 * The grant a placeholder names, read from the store: the proxy's Placeholders need it, and
 * they are built before Secrets, which mints with them.
 */
export function placeholderGrantOf(store: Pick<SecretStore, 'grant'>): (id: string) => PlaceholderGrant | undefined {
  return (id) => {
    const g = store.grant(id);
    return g && { id: g.id, secret: g.secret, sandboxId: g.sandboxId, sandbox: g.sandbox, revoked: g.revokedAt !== null };
  };
}

export class Secrets {
  private readonly now: () => number;
  private readonly filesListeners: Array<(sandboxId: string) => void> = [];

  constructor(private readonly deps: SecretsDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** A preset fills in the hosts and the header its API wants; given ones win. */
  add(name: string, opts: { hosts?: string[]; inject?: string; preset?: SecretPreset; value: string }): SecretView {
    if (!SECRET_NAME.test(name)) throw new DomainError('invalid_request', `secret name '${name}' must be 1-63 of a-z 0-9 _ . - (starting with a letter or digit)`);
    const preset = opts.preset === undefined ? undefined : SECRET_PRESETS[opts.preset];
    const hosts = opts.hosts ?? [...(preset?.hosts ?? [])];
    const inject = opts.inject ?? preset?.inject;
    const badHost = hosts.find((h) => !HOST_PATTERN.test(h));
    if (!hosts.length || badHost !== undefined) {
      throw new DomainError('invalid_request', `hosts must be names like api.example.com or *.example.com${badHost ? `, got '${badHost}'` : ''}`);
    }
    if (inject === undefined) throw new DomainError('invalid_request', "give the header to inject (like 'Authorization: Bearer {}') or a preset");
    try {
      parseInject(inject);
    } catch (e) {
      throw new DomainError('invalid_request', (e as Error).message);
    }
    const existing = this.deps.store.get(name);
    this.deps.store.put({
      name,
      hosts: hosts.map((h) => h.toLowerCase()),
      inject,
      preset: opts.preset ?? null,
      sealed: this.deps.sealer.seal(name, opts.value),
      createdAt: existing?.createdAt ?? this.iso(),
    });
    return this.view(name);
  }

  list(): SecretView[] {
    return this.deps.store.list().map((s) => this.view(s.name));
  }

  view(name: string): SecretView {
    const s = this.deps.store.get(name);
    if (!s) throw new DomainError('not_found', `no secret named '${name}' (see \`burrow secret list\`)`);
    const grants = this.deps.store.grants().filter((g) => g.secret === name && !g.revokedAt);
    return {
      name: s.name,
      hosts: s.hosts,
      inject: s.inject,
      preset: s.preset,
      created_at: s.createdAt,
      grants: grants.map((g) => ({ id: g.id, sandbox: g.sandbox, env: g.envVar, caveats: g.caveats, created_at: g.createdAt })),
    };
  }

  async remove(name: string): Promise<void> {
    this.view(name);
    const sandboxIds = new Set(this.deps.store.grants().filter((g) => g.secret === name).map((g) => g.sandboxId));
    this.deps.store.remove(name);
    for (const sandboxId of sandboxIds) await this.updateFiles(sandboxId);
  }

  /**
   * A placeholder for `secret`, bound to `sandbox`; `ttlMs` bounds its validity. Without
   * `envVar`, a preset's secret goes in the variable its tool reads.
   */
  async grant(secret: string, sandbox: string, opts: { envVar?: string; ttlMs?: number }): Promise<{ grant: GrantRecord; placeholder: string }> {
    const s = this.view(secret);
    const envVar = opts.envVar ?? (s.preset ? SECRET_PRESETS[s.preset].env[0] : undefined);
    const record = this.sandbox(sandbox);
    const caveats = [`sandbox = ${record.name}`, `secret = ${secret}`, `host = ${s.hosts.join(',')}`];
    if (opts.ttlMs !== undefined) caveats.push(`expires = ${new Date(this.now() + opts.ttlMs).toISOString().replace(/\.\d{3}Z$/, 'Z')}`);
    // One live grant per secret and sandbox: a new grant replaces the old one.
    this.deps.store.revokeGrants({ secret, sandboxId: record.id }, this.iso());
    const grant: GrantRecord = {
      id: `grant_${randomBytes(12).toString('base64url')}`,
      secret,
      sandboxId: record.id,
      sandbox: record.name,
      envVar: envVar ?? null,
      caveats,
      createdAt: this.iso(),
      revokedAt: null,
    };
    this.deps.store.addGrant(grant);
    await this.updateFiles(record.id);
    return { grant, placeholder: this.placeholderOf(grant) };
  }

  async revoke(secret: string, sandbox?: string): Promise<number> {
    this.view(secret);
    const record = sandbox === undefined ? undefined : this.sandbox(sandbox);
    const affected = this.deps.store.grants().filter((g) => g.secret === secret && !g.revokedAt && (!record || g.sandboxId === record.id));
    const count = this.deps.store.revokeGrants({ secret, ...(record ? { sandboxId: record.id } : {}) }, this.iso());
    for (const sandboxId of new Set(affected.map((g) => g.sandboxId))) await this.updateFiles(sandboxId);
    return count;
  }

  log(filter: { secret?: string; sandbox?: string; limit?: number }): AuditEntry[] {
    return this.deps.store.auditLog({ ...filter, limit: Math.min(filter.limit ?? 100, 10_000) });
  }

  /** For the proxy only: the secret with its value opened. */
  secretForUse(name: string): SecretForUse | undefined {
    const s = this.deps.store.get(name);
    return s && { hosts: s.hosts, inject: s.inject, value: this.deps.sealer.open(s.name, s.sealed) };
  }

  grantForPlaceholder(id: string): PlaceholderGrant | undefined {
    return placeholderGrantOf(this.deps.store)(id);
  }

  /** Environment variables that carry placeholders into the sandbox's processes. */
  environmentOf(sandboxId: string): Record<string, string> {
    const env: Record<string, string> = {};
    const git: Array<[string, string]> = [];
    for (const g of this.deps.store.grantsOf(sandboxId)) {
      const preset = this.deps.store.get(g.secret)?.preset;
      const spec: SecretPresetSpec | undefined = preset ? SECRET_PRESETS[preset] : undefined;
      // A grant in the preset's own variable sets every variable its tools read.
      const vars = spec && g.envVar === spec.env[0] ? spec.env : g.envVar ? [g.envVar] : [];
      for (const name of vars) env[name] = this.placeholderOf(g);
      if (spec?.git) git.push(...gitCredentials(g.secret, spec.git));
    }
    // git reads config from the environment too (GIT_CONFIG_COUNT), so no file needs writing.
    git.forEach(([key, value], i) => Object.assign(env, { [`GIT_CONFIG_KEY_${i}`]: key, [`GIT_CONFIG_VALUE_${i}`]: value }));
    if (git.length) env.GIT_CONFIG_COUNT = String(git.length);
    return env;
  }

  /**
   * Called after a running sandbox's placeholder files changed (a grant, a revoke, a secret
   * removed): a runtime that copies them in (a VM) copies them again.
   */
  onFilesChanged(listener: (sandboxId: string) => void): void {
    this.filesListeners.push(listener);
  }

  /** The host directory bound (read-only) at /.burrow/secrets, refreshed with the grants. */
  async filesOf(sandboxId: string): Promise<string> {
    return this.writeFiles(sandboxId);
  }

  /**
   * At start: placeholder files match the grants again after a crash between the database and
   * the files, and a sandbox destroyed half-way loses its grants and files too.
   */
  async repair(exists: (sandboxId: string) => boolean): Promise<string[]> {
    const ids = new Set(this.deps.store.grants().map((g) => g.sandboxId));
    for (const entry of await readdir(this.deps.filesDir).catch(() => [] as string[])) ids.add(entry);
    const forgotten: string[] = [];
    for (const id of ids) {
      if (exists(id)) await this.writeFiles(id);
      else {
        await this.forget(id);
        forgotten.push(id);
      }
    }
    return forgotten;
  }

  /** A destroyed sandbox takes its grants and files with it. */
  async forget(sandboxId: string): Promise<void> {
    this.deps.store.dropGrantsOf(sandboxId);
    await rm(join(this.deps.filesDir, sandboxId), { recursive: true, force: true });
  }

  private placeholderOf(g: GrantRecord): string {
    // Minting is deterministic (an HMAC chain): the same grant always gives the same text.
    return this.deps.placeholders.mint(g.id, g.caveats);
  }

  private async updateFiles(sandboxId: string): Promise<void> {
    await this.writeFiles(sandboxId);
    for (const listener of this.filesListeners) listener(sandboxId);
  }

  private async writeFiles(sandboxId: string): Promise<string> {
    const dir = join(this.deps.filesDir, sandboxId);
    if (!sandboxId) return dir;
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const live = this.deps.store.grantsOf(sandboxId);
    for (const g of live) {
      const tmp = join(dir, `.${g.secret}.${randomBytes(6).toString('hex')}.tmp`);
      await writeFile(tmp, `${this.placeholderOf(g)}\n`, { mode: 0o644 });
      await rename(tmp, join(dir, g.secret));
    }
    const names = new Set(live.map((g) => g.secret));
    // Dot files are other writers' files in flight (secret names never start with a dot).
    for (const entry of await readdir(dir)) if (!names.has(entry) && !entry.startsWith('.')) await rm(join(dir, entry), { force: true });
    return dir;
  }

  private sandbox(name: string) {
    const record = this.deps.sandboxes.byName(name);
    if (!record) throw new SandboxNotFound(name);
    return record;
  }

  private iso(): string {
    return new Date(this.now()).toISOString();
  }
}

/**
 * git over HTTPS asks a credential helper; this one answers with the preset's user name and the
 * placeholder file as the password, so a regrant applies without touching git's config. The
 * secret's name is safe in the helper's shell text (SECRET_NAME allows no shell syntax).
 */
function gitCredentials(secret: string, git: NonNullable<SecretPresetSpec['git']>): Array<[string, string]> {
  const helper = `!f() { test "$1" = get || return 0; echo username=${git.username}; printf 'password=%s\\n' "$(cat ${SECRETS_INSIDE}/${secret})"; }; f`;
  return git.hosts.map((host) => [`credential.https://${host}.helper`, helper]);
}
