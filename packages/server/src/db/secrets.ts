// Secrets, their grants to sandboxes, and the egress audit log: rows in, typed records out.
// Secret values are stored sealed; this module never sees them in the clear.
import type { EgressLogEntry, SecretPreset } from '@burrow/protocol';
import type { Db } from './database.js';

export interface SecretRecord {
  name: string;
  /** Hosts the secret may be sent to: exact names or `*.example.com`. */
  hosts: string[];
  /** The header the proxy sets, e.g. `Authorization: Bearer {}` ({} is the value). */
  inject: string;
  /** The preset it was added with, which decides the variables a grant sets. */
  preset: SecretPreset | null;
  sealed: Buffer;
  createdAt: string;
}

export interface GrantRecord {
  id: string;
  secret: string;
  sandboxId: string;
  /** The sandbox's name when granted (for display; the id is what binds). */
  sandbox: string;
  envVar: string | null;
  /** The caveats the placeholder was minted with. */
  caveats: string[];
  createdAt: string;
  revokedAt: string | null;
}

/** One row of the audit log: exactly what `GET /v1/secrets/log` returns. */
export type AuditEntry = EgressLogEntry;

interface GrantRow {
  id: string;
  secret: string;
  sandbox_id: string;
  sandbox: string;
  env_var: string | null;
  caveats: string;
  created_at: string;
  revoked_at: string | null;
}

const grantOf = (r: GrantRow): GrantRecord => ({
  id: r.id,
  secret: r.secret,
  sandboxId: r.sandbox_id,
  sandbox: r.sandbox,
  envVar: r.env_var,
  caveats: JSON.parse(r.caveats) as string[],
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

interface SecretRow {
  name: string;
  hosts: string;
  inject: string;
  preset: string | null;
  sealed: Buffer;
  created_at: string;
}

const secretOf = (r: SecretRow): SecretRecord => ({
  name: r.name,
  hosts: JSON.parse(r.hosts) as string[],
  inject: r.inject,
  preset: r.preset as SecretPreset | null,
  sealed: r.sealed,
  createdAt: r.created_at,
});

/** The audit log keeps the newest entries only; older ones are dropped as new ones come. */
export const AUDIT_KEEP = 100_000;

export class SecretStore {
  private audited = 0;

  constructor(
    private readonly db: Db,
    private readonly auditKeep = AUDIT_KEEP,
  ) {}

  /** Inserts or replaces (a new value or hosts for the same name); grants stay. */
  put(s: SecretRecord): void {
    this.db
      .prepare(
        `INSERT INTO secrets (name, hosts, inject, preset, sealed, created_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(name) DO UPDATE SET hosts = excluded.hosts, inject = excluded.inject, preset = excluded.preset, sealed = excluded.sealed`,
      )
      .run(s.name, JSON.stringify(s.hosts), s.inject, s.preset, s.sealed, s.createdAt);
  }

  get(name: string): SecretRecord | undefined {
    const row = this.db.prepare('SELECT * FROM secrets WHERE name = ?').get(name) as SecretRow | undefined;
    return row && secretOf(row);
  }

  list(): SecretRecord[] {
    return (this.db.prepare('SELECT * FROM secrets ORDER BY name').all() as SecretRow[]).map(secretOf);
  }

  remove(name: string): void {
    this.db.prepare('DELETE FROM secrets WHERE name = ?').run(name);
  }

  addGrant(g: Omit<GrantRecord, 'revokedAt'>): void {
    this.db
      .prepare(
        `INSERT INTO secret_grants (id, secret, sandbox_id, sandbox, env_var, caveats, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(g.id, g.secret, g.sandboxId, g.sandbox, g.envVar, JSON.stringify(g.caveats), g.createdAt);
  }

  grant(id: string): GrantRecord | undefined {
    const row = this.db.prepare('SELECT * FROM secret_grants WHERE id = ?').get(id) as GrantRow | undefined;
    return row && grantOf(row);
  }

  /** Live grants of one sandbox, oldest first. */
  grantsOf(sandboxId: string): GrantRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM secret_grants WHERE sandbox_id = ? AND revoked_at IS NULL ORDER BY created_at, rowid')
      .all(sandboxId) as GrantRow[];
    return rows.map(grantOf);
  }

  grants(): GrantRecord[] {
    return (this.db.prepare('SELECT * FROM secret_grants ORDER BY created_at, rowid').all() as GrantRow[]).map(grantOf);
  }

  revokeGrants(where: { secret: string; sandboxId?: string }, at: string): number {
    const sql = where.sandboxId
      ? 'UPDATE secret_grants SET revoked_at = ? WHERE secret = ? AND sandbox_id = ? AND revoked_at IS NULL'
      : 'UPDATE secret_grants SET revoked_at = ? WHERE secret = ? AND revoked_at IS NULL';
    const args = where.sandboxId ? [at, where.secret, where.sandboxId] : [at, where.secret];
    return this.db.prepare(sql).run(...args).changes;
  }

  /** A destroyed sandbox's grants go with it. */
  dropGrantsOf(sandboxId: string): void {
    this.db.prepare('DELETE FROM secret_grants WHERE sandbox_id = ?').run(sandboxId);
  }

  audit(e: Omit<AuditEntry, 'id'>): void {
    this.db
      .prepare('INSERT INTO egress_audit (at, sandbox, secret, host, method, path, status, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(e.at, e.sandbox, e.secret, e.host, e.method, e.path, e.status, e.outcome);
    // Trimmed now and then rather than on every insert: the proxy writes one row per use.
    if (++this.audited % 100 === 1) {
      this.db.prepare('DELETE FROM egress_audit WHERE id <= (SELECT MAX(id) FROM egress_audit) - ?').run(this.auditKeep);
    }
  }

  /** The newest `limit` entries, oldest first, optionally of one secret or sandbox. */
  auditLog(filter: { secret?: string; sandbox?: string; limit: number }): AuditEntry[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM (
           SELECT * FROM egress_audit
           WHERE (@secret IS NULL OR secret = @secret) AND (@sandbox IS NULL OR sandbox = @sandbox)
           ORDER BY id DESC LIMIT @limit
         ) ORDER BY id`,
      )
      .all({ secret: filter.secret ?? null, sandbox: filter.sandbox ?? null, limit: filter.limit }) as AuditEntry[];
    return rows;
  }
}
