// The tasks table: keep-alive holds taken from inside a sandbox, each until its expiry.
import type { Db } from './database.js';

export interface TaskRecord {
  sandboxId: string;
  id: string;
  name: string;
  expiresAt: string;
  createdAt: string;
}

interface Row {
  sandbox_id: string;
  id: string;
  name: string;
  expires_at: string;
  created_at: string;
}

const fromRow = (r: Row): TaskRecord => ({ sandboxId: r.sandbox_id, id: r.id, name: r.name, expiresAt: r.expires_at, createdAt: r.created_at });

export class TaskStore {
  constructor(private readonly db: Db) {}

  /** Tasks not yet expired at `now`, oldest first. */
  active(sandboxId: string, now: string): TaskRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM tasks WHERE sandbox_id = ? AND expires_at > ? ORDER BY created_at, id')
      .all(sandboxId, now) as Row[];
    return rows.map(fromRow);
  }

  /** Sandbox ids with a task not yet expired at `now`. */
  holding(now: string): Set<string> {
    const rows = this.db.prepare('SELECT DISTINCT sandbox_id FROM tasks WHERE expires_at > ?').all(now) as Array<{ sandbox_id: string }>;
    return new Set(rows.map((r) => r.sandbox_id));
  }

  insert(task: TaskRecord): void {
    this.db
      .prepare('INSERT INTO tasks (sandbox_id, id, name, expires_at, created_at) VALUES (@sandboxId, @id, @name, @expiresAt, @createdAt)')
      .run(task);
  }

  setExpiry(sandboxId: string, id: string, expiresAt: string): boolean {
    return this.db.prepare('UPDATE tasks SET expires_at = ? WHERE sandbox_id = ? AND id = ?').run(expiresAt, sandboxId, id).changes > 0;
  }

  delete(sandboxId: string, id: string): boolean {
    return this.db.prepare('DELETE FROM tasks WHERE sandbox_id = ? AND id = ?').run(sandboxId, id).changes > 0;
  }

  deleteExpired(now: string): void {
    this.db.prepare('DELETE FROM tasks WHERE expires_at <= ?').run(now);
  }
}
