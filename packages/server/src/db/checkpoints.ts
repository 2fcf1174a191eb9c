// The checkpoints table, each sandbox's checkpoint bookkeeping (the checkpoint it stands on and
// its id counters) and the intent of an in-flight restore: rows in, typed records out.
import type { Db } from './database.js';

/**
 * `creating` and `deleting` are in-flight; the reconciler rolls the first back and finishes the
 * second. Only `ready` checkpoints are shown to users.
 */
export type CheckpointStatus = 'creating' | 'ready' | 'deleting';

export interface CheckpointRecord {
  sandboxId: string;
  id: string;
  comment: string;
  isAuto: boolean;
  /** It holds the sandbox's memory too: a restore or fork of it resumes the running processes. */
  hasMemory: boolean;
  /** The checkpoint the sandbox stood on when this one was taken (its parent), if any. */
  sourceId: string | null;
  createdAt: string;
  status: CheckpointStatus;
}

/** What a restore writes before it touches the disk, so that a crash can be finished. */
export interface RestoreIntent {
  sandboxId: string;
  /** The checkpoint being restored. */
  target: string;
  /** The automatic checkpoint that keeps the state being replaced. */
  autoId: string;
  startedAt: string;
}

interface Row {
  sandbox_id: string;
  id: string;
  comment: string;
  is_auto: number;
  has_memory: number;
  source_id: string | null;
  created_at: string;
  status: CheckpointStatus;
}

function fromRow(r: Row): CheckpointRecord {
  return {
    sandboxId: r.sandbox_id,
    id: r.id,
    comment: r.comment,
    isAuto: r.is_auto === 1,
    hasMemory: r.has_memory === 1,
    sourceId: r.source_id,
    createdAt: r.created_at,
    status: r.status,
  };
}

/** `v12` -> 12, `auto-3` -> 3: ids sort by their number, not as strings. */
export function checkpointNumber(id: string): number {
  return Number(/(\d+)$/.exec(id)?.[1] ?? -1);
}

export class CheckpointStore {
  constructor(private readonly db: Db) {}

  /** Every checkpoint of one sandbox, newest first (the order the Sprites docs show). */
  forSandbox(sandboxId: string): CheckpointRecord[] {
    const rows = this.db
      .prepare('SELECT * FROM checkpoints WHERE sandbox_id = ? ORDER BY created_at DESC, rowid DESC')
      .all(sandboxId) as Row[];
    return rows.map(fromRow);
  }

  get(sandboxId: string, id: string): CheckpointRecord | undefined {
    const row = this.db.prepare('SELECT * FROM checkpoints WHERE sandbox_id = ? AND id = ?').get(sandboxId, id) as Row | undefined;
    return row && fromRow(row);
  }

  all(): CheckpointRecord[] {
    return (this.db.prepare('SELECT * FROM checkpoints ORDER BY sandbox_id, created_at').all() as Row[]).map(fromRow);
  }

  /**
   * Reserves the next id (`v<n>` or `auto-<n>`) and records the checkpoint as `creating`, in one
   * transaction, before anything is written to disk.
   */
  begin(sandboxId: string, opts: { comment: string; isAuto: boolean; hasMemory?: boolean; createdAt?: string }): CheckpointRecord {
    return this.db.transaction(() => {
      const column = opts.isAuto ? 'auto_checkpoint_seq' : 'checkpoint_seq';
      const state = this.db
        .prepare(`SELECT ${column} AS seq, checkpoint_source AS source FROM sandboxes WHERE id = ?`)
        .get(sandboxId) as { seq: number; source: string | null } | undefined;
      if (!state) throw new Error(`no sandbox with id ${sandboxId}`);
      // v0, v1, ... and auto-1, auto-2, ...: the counters never go back, so an id is never reused.
      const n = opts.isAuto ? state.seq + 1 : state.seq;
      this.db.prepare(`UPDATE sandboxes SET ${column} = ? WHERE id = ?`).run(opts.isAuto ? n : n + 1, sandboxId);
      const record: CheckpointRecord = {
        sandboxId,
        id: opts.isAuto ? `auto-${n}` : `v${n}`,
        comment: opts.comment,
        isAuto: opts.isAuto,
        hasMemory: opts.hasMemory ?? false,
        sourceId: state.source,
        createdAt: opts.createdAt ?? new Date().toISOString(),
        status: 'creating',
      };
      this.db
        .prepare(
          `INSERT INTO checkpoints (sandbox_id, id, comment, is_auto, has_memory, source_id, created_at, status)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(sandboxId, record.id, record.comment, record.isAuto ? 1 : 0, record.hasMemory ? 1 : 0, record.sourceId, record.createdAt, record.status);
      return record;
    })();
  }

  /** The checkpoint is on disk: it becomes visible and, unless `keepSource`, what the sandbox stands on. */
  complete(sandboxId: string, id: string, opts: { becomesSource: boolean }): void {
    this.db.transaction(() => {
      this.setStatus(sandboxId, id, 'ready');
      if (opts.becomesSource) this.setSource(sandboxId, id);
    })();
  }

  setStatus(sandboxId: string, id: string, status: CheckpointStatus): void {
    this.db.prepare('UPDATE checkpoints SET status = ? WHERE sandbox_id = ? AND id = ?').run(status, sandboxId, id);
  }

  /**
   * Forgets a checkpoint. When it was the newest of its kind and never became visible (a rolled
   * back create), its number is given back so the ids the user sees have no gap.
   */
  delete(sandboxId: string, id: string, opts: { releaseId?: boolean } = {}): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM checkpoints WHERE sandbox_id = ? AND id = ?').run(sandboxId, id);
      if (!opts.releaseId) return;
      const n = checkpointNumber(id);
      if (id.startsWith('auto-')) {
        this.db.prepare('UPDATE sandboxes SET auto_checkpoint_seq = ? WHERE id = ? AND auto_checkpoint_seq = ?').run(n - 1, sandboxId, n);
      } else {
        this.db.prepare('UPDATE sandboxes SET checkpoint_seq = ? WHERE id = ? AND checkpoint_seq = ?').run(n, sandboxId, n + 1);
      }
    })();
  }

  /** The checkpoint the sandbox's disk was last taken as or restored from. */
  sourceOf(sandboxId: string): string | null {
    const row = this.db.prepare('SELECT checkpoint_source AS source FROM sandboxes WHERE id = ?').get(sandboxId) as
      | { source: string | null }
      | undefined;
    return row?.source ?? null;
  }

  setSource(sandboxId: string, id: string | null): void {
    this.db.prepare('UPDATE sandboxes SET checkpoint_source = ? WHERE id = ?').run(id, sandboxId);
  }

  // Restore intents.

  /** Records a restore and its automatic checkpoint (as `creating`) in one transaction. */
  beginRestore(sandboxId: string, target: string): RestoreIntent {
    return this.db.transaction(() => {
      const auto = this.begin(sandboxId, { comment: `before restoring ${target}`, isAuto: true });
      const intent: RestoreIntent = { sandboxId, target, autoId: auto.id, startedAt: auto.createdAt };
      this.db
        .prepare('INSERT INTO checkpoint_restores (sandbox_id, target, auto_id, started_at) VALUES (?, ?, ?, ?)')
        .run(sandboxId, target, intent.autoId, intent.startedAt);
      return intent;
    })();
  }

  /** The disk now holds the target: the auto checkpoint is kept and the sandbox stands on the target. */
  finishRestore(intent: RestoreIntent): void {
    this.db.transaction(() => {
      this.setStatus(intent.sandboxId, intent.autoId, 'ready');
      this.setSource(intent.sandboxId, intent.target);
      this.db.prepare('DELETE FROM checkpoint_restores WHERE sandbox_id = ?').run(intent.sandboxId);
    })();
  }

  /** Nothing was moved: the restore is forgotten as if it never started. */
  abandonRestore(intent: RestoreIntent): void {
    this.db.transaction(() => {
      this.delete(intent.sandboxId, intent.autoId, { releaseId: true });
      this.db.prepare('DELETE FROM checkpoint_restores WHERE sandbox_id = ?').run(intent.sandboxId);
    })();
  }

  restores(): RestoreIntent[] {
    const rows = this.db.prepare('SELECT * FROM checkpoint_restores').all() as Array<{
      sandbox_id: string;
      target: string;
      auto_id: string;
      started_at: string;
    }>;
    return rows.map((r) => ({ sandboxId: r.sandbox_id, target: r.target, autoId: r.auto_id, startedAt: r.started_at }));
  }
}
