// The E2B API's own facts about a sandbox (template, metadata, lifetime), one row per sandbox
// made or connected through it; the row goes with the sandbox (ON DELETE CASCADE).
import type { Db } from './database.js';

/** What a sandbox's timeout does: E2B ends it, unless pause-on-timeout was asked. */
export type OnTimeout = 'kill' | 'pause';

export interface E2bSandboxRecord {
  sandboxId: string;
  templateId: string;
  metadata: Record<string, string>;
  /** When the timeout fires (ms since the epoch). */
  endsAt: number;
  onTimeout: OnTimeout;
  startedAt: string;
}

interface Row {
  sandbox_id: string;
  template_id: string;
  metadata: string;
  ends_at: number;
  on_timeout: string;
  started_at: string;
}

function fromRow(r: Row): E2bSandboxRecord {
  return {
    sandboxId: r.sandbox_id,
    templateId: r.template_id,
    metadata: JSON.parse(r.metadata) as Record<string, string>,
    endsAt: r.ends_at,
    onTimeout: r.on_timeout === 'pause' ? 'pause' : 'kill',
    startedAt: r.started_at,
  };
}

export class E2bSandboxStore {
  constructor(private readonly db: Db) {}

  put(record: E2bSandboxRecord): void {
    this.db
      .prepare(
        `INSERT INTO e2b_sandboxes (sandbox_id, template_id, metadata, ends_at, on_timeout, started_at)
         VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (sandbox_id) DO UPDATE SET template_id = excluded.template_id, metadata = excluded.metadata,
           ends_at = excluded.ends_at, on_timeout = excluded.on_timeout, started_at = excluded.started_at`,
      )
      .run(record.sandboxId, record.templateId, JSON.stringify(record.metadata), record.endsAt, record.onTimeout, record.startedAt);
  }

  get(sandboxId: string): E2bSandboxRecord | undefined {
    const row = this.db.prepare('SELECT * FROM e2b_sandboxes WHERE sandbox_id = ?').get(sandboxId) as Row | undefined;
    return row && fromRow(row);
  }

  setEndsAt(sandboxId: string, endsAt: number): void {
    this.db.prepare('UPDATE e2b_sandboxes SET ends_at = ? WHERE sandbox_id = ?').run(endsAt, sandboxId);
  }

  all(): E2bSandboxRecord[] {
    return (this.db.prepare('SELECT * FROM e2b_sandboxes').all() as Row[]).map(fromRow);
  }
}
