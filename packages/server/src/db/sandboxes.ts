// The sandboxes table: rows in, typed records out.
import type { Statement } from 'better-sqlite3';
import type { Db } from './database.js';
import type { RuntimeKind } from '../config.js';
import { imageNameOf, type ImageName } from '../storage/image-recipes.js';

/** `creating` and `destroying` are in-flight; the reconciler finishes or undoes them on start. */
export type SandboxStatus = 'creating' | 'running' | 'warm' | 'cold' | 'failed' | 'destroying';

export interface SandboxRecord {
  id: string;
  name: string;
  status: SandboxStatus;
  runtime: RuntimeKind;
  image: string;
  /** The burrow image it stands on; null for an imported image (see imageLabelOf). */
  imageName: ImageName | null;
  cpus: number;
  ramMb: number;
  storageGb: number;
  /** Most processes (and threads) the sandbox may have at once. */
  pidsLimit: number;
  environment: Record<string, string>;
  labels: string[];
  urlSettings: { auth: string; private_access?: string };
  failureReason: string | null;
  /** The runtime container of the current (or last) boot; a new one per boot. */
  containerId: string;
  createdAt: string;
  updatedAt: string;
  lastRunningAt: string | null;
  lastWarmingAt: string | null;
  /** Idle sleep overrides: null is the server's default, 0 never. */
  warmAfterMs: number | null;
  coldAfterMs: number | null;
  /** First host id of the sandbox's user namespace (runc); null until its first such boot. */
  idBase: number | null;
}

interface Row {
  id: string;
  name: string;
  status: SandboxStatus;
  runtime: RuntimeKind;
  image: string;
  cpus: number;
  ram_mb: number;
  storage_gb: number;
  pids_limit: number;
  environment: string;
  labels: string;
  url_settings: string;
  failure_reason: string | null;
  container_id: string;
  created_at: string;
  updated_at: string;
  last_running_at: string | null;
  last_warming_at: string | null;
  warm_after_ms: number | null;
  cold_after_ms: number | null;
  id_base: number | null;
}

function fromRow(r: Row): SandboxRecord {
  return {
    id: r.id,
    name: r.name,
    status: r.status,
    runtime: r.runtime,
    image: r.image,
    imageName: imageNameOf(r.image),
    cpus: r.cpus,
    ramMb: r.ram_mb,
    storageGb: r.storage_gb,
    pidsLimit: r.pids_limit,
    environment: JSON.parse(r.environment),
    labels: JSON.parse(r.labels),
    urlSettings: JSON.parse(r.url_settings),
    failureReason: r.failure_reason,
    containerId: r.container_id,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    lastRunningAt: r.last_running_at,
    lastWarmingAt: r.last_warming_at,
    warmAfterMs: r.warm_after_ms,
    coldAfterMs: r.cold_after_ms,
    idBase: r.id_base,
  };
}

export class DuplicateNameError extends Error {}

/** Records a sandbox's new status (see SandboxStore.takeStatusWriter). */
export type StatusWriter = (id: string, status: SandboxStatus, extra?: { failureReason?: string | null; at?: string }) => void;

export class SandboxStore {
  private byNameStatement: Statement | undefined;
  private byIdStatement: Statement | undefined;
  #statusWriterTaken = false;

  constructor(private readonly db: Db) {}

  insert(s: SandboxRecord): void {
    try {
      this.db
        .prepare(
          `INSERT INTO sandboxes (id, name, status, runtime, image, cpus, ram_mb, storage_gb, pids_limit, environment,
             labels, url_settings, failure_reason, container_id, created_at, updated_at, last_running_at, last_warming_at,
             warm_after_ms, cold_after_ms)
           VALUES (@id, @name, @status, @runtime, @image, @cpus, @ramMb, @storageGb, @pidsLimit, @environment,
             @labels, @urlSettings, @failureReason, @containerId, @createdAt, @updatedAt, @lastRunningAt, @lastWarmingAt,
             @warmAfterMs, @coldAfterMs)`,
        )
        .run({
          ...s,
          warmAfterMs: s.warmAfterMs ?? null,
          coldAfterMs: s.coldAfterMs ?? null,
          environment: JSON.stringify(s.environment),
          labels: JSON.stringify(s.labels),
          urlSettings: JSON.stringify(s.urlSettings),
        });
    } catch (e) {
      if ((e as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new DuplicateNameError(s.name);
      throw e;
    }
  }

  byName(name: string): SandboxRecord | undefined {
    // Prepared once: every API request and every URL request looks its sandbox up by name.
    this.byNameStatement ??= this.db.prepare('SELECT * FROM sandboxes WHERE name = ?');
    const row = this.byNameStatement.get(name) as Row | undefined;
    return row && fromRow(row);
  }

  byId(id: string): SandboxRecord | undefined {
    this.byIdStatement ??= this.db.prepare('SELECT * FROM sandboxes WHERE id = ?');
    const row = this.byIdStatement.get(id) as Row | undefined;
    return row && fromRow(row);
  }

  all(): SandboxRecord[] {
    return (this.db.prepare('SELECT * FROM sandboxes ORDER BY name').all() as Row[]).map(fromRow);
  }

  /** Names in order after `after`, for paging. */
  page(opts: { prefix: string; after: string; limit: number }): SandboxRecord[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM sandboxes WHERE name > ? AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?`,
      )
      .all(opts.after, opts.prefix.length, opts.prefix, opts.limit) as Row[];
    return rows.map(fromRow);
  }

  countByStatus(): Record<string, number> {
    const rows = this.db.prepare('SELECT status, COUNT(*) AS n FROM sandboxes GROUP BY status').all() as Array<{
      status: string;
      n: number;
    }>;
    return Object.fromEntries(rows.map((r) => [r.status, r.n]));
  }

  /**
   * The only way to write a sandbox's status, handed out once: SandboxStatuses (core/
   * sandbox-status.ts) takes it when it is built and checks every change against the lifecycle
   * table. Any other taker, before or after, is refused, so no other code can record a status.
   */
  takeStatusWriter(): StatusWriter {
    if (this.#statusWriterTaken) throw new Error('the sandbox status writer is taken: statuses change only through SandboxStatuses.move');
    this.#statusWriterTaken = true;
    return (id, status, extra = {}) => this.#writeStatus(id, status, extra);
  }

  #writeStatus(id: string, status: SandboxStatus, extra: { failureReason?: string | null; at?: string }): void {
    const now = extra.at ?? new Date().toISOString();
    this.db
      .prepare(
        `UPDATE sandboxes SET status = @status, updated_at = @now,
           failure_reason = CASE WHEN @setReason THEN @reason ELSE failure_reason END,
           last_running_at = CASE WHEN @status = 'running' THEN @now ELSE last_running_at END,
           last_warming_at = CASE WHEN @status = 'warm' THEN @now ELSE last_warming_at END
         WHERE id = @id`,
      )
      .run({
        id,
        status,
        now,
        setReason: extra.failureReason !== undefined ? 1 : 0,
        reason: extra.failureReason ?? null,
      });
  }

  update(
    id: string,
    patch: {
      urlSettings?: SandboxRecord['urlSettings'];
      labels?: string[];
      environment?: Record<string, string>;
      /** undefined keeps the value; null goes back to the server's default. */
      warmAfterMs?: number | null;
      coldAfterMs?: number | null;
    },
  ): void {
    this.db
      .prepare(
        `UPDATE sandboxes SET updated_at = @now,
           url_settings = COALESCE(@urlSettings, url_settings), labels = COALESCE(@labels, labels),
           environment = COALESCE(@environment, environment),
           warm_after_ms = CASE WHEN @setWarm THEN @warm ELSE warm_after_ms END,
           cold_after_ms = CASE WHEN @setCold THEN @cold ELSE cold_after_ms END
         WHERE id = @id`,
      )
      .run({
        id,
        now: new Date().toISOString(),
        urlSettings: patch.urlSettings ? JSON.stringify(patch.urlSettings) : null,
        labels: patch.labels ? JSON.stringify(patch.labels) : null,
        environment: patch.environment ? JSON.stringify(patch.environment) : null,
        setWarm: patch.warmAfterMs !== undefined ? 1 : 0,
        warm: patch.warmAfterMs ?? null,
        setCold: patch.coldAfterMs !== undefined ? 1 : 0,
        cold: patch.coldAfterMs ?? null,
      });
  }

  /**
   * Gives the sandbox the lowest free id range at or above `first` (each `size` ids wide) and
   * returns its first id; a sandbox that has one keeps it.
   */
  assignIdBase(id: string, first: number, size: number): number {
    return this.db.transaction(() => {
      const own = this.db.prepare('SELECT id_base FROM sandboxes WHERE id = ?').get(id) as { id_base: number | null } | undefined;
      if (!own) throw new Error(`no sandbox with id ${id}`);
      if (own.id_base !== null) return own.id_base;
      const taken = this.db.prepare('SELECT id_base FROM sandboxes WHERE id_base IS NOT NULL ORDER BY id_base').pluck().all() as number[];
      let base = first;
      for (const t of taken) {
        if (t > base) break;
        if (t === base) base += size;
      }
      this.db.prepare('UPDATE sandboxes SET id_base = ? WHERE id = ?').run(base, id);
      return base;
    })();
  }

  /** Recorded before the container starts, so that after a crash the reconciler knows its id. */
  setContainerId(id: string, containerId: string): void {
    this.db.prepare('UPDATE sandboxes SET container_id = ? WHERE id = ?').run(containerId, id);
  }

  /** New resource limits; the caller applies them to the running sandbox. */
  setLimits(id: string, limits: Pick<SandboxRecord, 'cpus' | 'ramMb' | 'storageGb' | 'pidsLimit'>): void {
    this.db
      .prepare(
        `UPDATE sandboxes SET cpus = @cpus, ram_mb = @ramMb, storage_gb = @storageGb, pids_limit = @pidsLimit,
           updated_at = @now WHERE id = @id`,
      )
      .run({ id, ...limits, now: new Date().toISOString() });
  }

  delete(id: string): void {
    this.db.prepare('DELETE FROM sandboxes WHERE id = ?').run(id);
  }
}
