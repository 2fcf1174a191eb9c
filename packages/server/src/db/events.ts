// The events table: what happened to each sandbox, in order. Rows outlive their sandbox (the
// `destroyed` event is the last word on it), so they carry the name and id, not a foreign key.
import type { Db } from './database.js';

export interface EventRow {
  seq: number;
  sandboxId: string;
  sandboxName: string;
  type: string;
  message: string;
  detail: Record<string, unknown> | null;
  createdAt: string;
}

interface Row {
  seq: number;
  sandbox_id: string;
  sandbox_name: string;
  type: string;
  message: string;
  detail: string | null;
  created_at: string;
}

function fromRow(r: Row): EventRow {
  return {
    seq: r.seq,
    sandboxId: r.sandbox_id,
    sandboxName: r.sandbox_name,
    type: r.type,
    message: r.message,
    detail: r.detail === null ? null : (JSON.parse(r.detail) as Record<string, unknown>),
    createdAt: r.created_at,
  };
}

export class EventStore {
  constructor(private readonly db: Db) {}

  insert(e: Omit<EventRow, 'seq'>): EventRow {
    const { lastInsertRowid } = this.db
      .prepare(
        `INSERT INTO events (sandbox_id, sandbox_name, type, message, detail, created_at)
         VALUES (?, ?, ?, ?, ?, ?)`,
      )
      .run(e.sandboxId, e.sandboxName, e.type, e.message, e.detail === null ? null : JSON.stringify(e.detail), e.createdAt);
    return { ...e, seq: Number(lastInsertRowid) };
  }

  /** The newest `limit` events of a sandbox name after `afterSeq`, oldest first. */
  forName(name: string, opts: { afterSeq: number; limit: number }): EventRow[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM (SELECT * FROM events WHERE sandbox_name = ? AND seq > ? ORDER BY seq DESC LIMIT ?)
         ORDER BY seq`,
      )
      .all(name, opts.afterSeq, opts.limit) as Row[];
    return rows.map(fromRow);
  }

  /** Deletes events older than `before` (ISO time); returns how many. */
  deleteOlderThan(before: string): number {
    return this.db.prepare('DELETE FROM events WHERE created_at < ?').run(before).changes;
  }
}
