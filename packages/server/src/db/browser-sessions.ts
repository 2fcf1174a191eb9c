// The browser_sessions table: what a browser's cookie (or a login link) stands for. Rows are keyed
// by the SHA-256 of the cookie's value, so the table alone opens nothing.
import type { Db } from './database.js';

/**
 * `dashboard`: the dashboard's login; `url-ticket`: a login link for a sandbox URL, not yet
 * opened; `url-login`: a browser logged in to a sandbox URL through such a link.
 */
export type BrowserSessionKind = 'dashboard' | 'url-ticket' | 'url-login';

export interface BrowserSessionRecord {
  idHash: string;
  kind: BrowserSessionKind;
  /** The sandbox a URL ticket or login is for; null for the dashboard. */
  sandboxId: string | null;
  /** The API token the session acts with: it must still be accepted at every use. */
  token: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

interface Row {
  id_hash: string;
  kind: BrowserSessionKind;
  sandbox_id: string | null;
  token: string;
  expires_at: number;
}

const fromRow = (r: Row): BrowserSessionRecord => ({
  idHash: r.id_hash,
  kind: r.kind,
  sandboxId: r.sandbox_id,
  token: r.token,
  expiresAt: r.expires_at,
});

export class BrowserSessionStore {
  private readonly byHash;
  private readonly insertRow;
  private readonly deleteRow;

  constructor(private readonly db: Db) {
    // Looked up on every request through a sandbox URL: prepared once.
    this.byHash = db.prepare('SELECT * FROM browser_sessions WHERE id_hash = ? AND kind = ? AND expires_at > ?');
    this.insertRow = db.prepare('INSERT INTO browser_sessions (id_hash, kind, sandbox_id, token, expires_at) VALUES (?, ?, ?, ?, ?)');
    this.deleteRow = db.prepare('DELETE FROM browser_sessions WHERE id_hash = ?');
  }

  insert(record: BrowserSessionRecord): void {
    this.insertRow.run(record.idHash, record.kind, record.sandboxId, record.token, record.expiresAt);
  }

  /** The session of this kind, unless it has expired at `now`. */
  find(idHash: string, kind: BrowserSessionKind, now: number): BrowserSessionRecord | undefined {
    const row = this.byHash.get(idHash, kind, now) as Row | undefined;
    return row && fromRow(row);
  }

  delete(idHash: string): void {
    this.deleteRow.run(idHash);
  }

  deleteExpired(now: number): void {
    this.db.prepare('DELETE FROM browser_sessions WHERE expires_at <= ?').run(now);
  }

  /** The distinct tokens sessions act with. */
  tokens(): string[] {
    return (this.db.prepare('SELECT DISTINCT token FROM browser_sessions').all() as Array<{ token: string }>).map((r) => r.token);
  }

  deleteByToken(token: string): void {
    this.db.prepare('DELETE FROM browser_sessions WHERE token = ?').run(token);
  }
}
