// Metered usage in time buckets: 10 s buckets as the meter writes them, merged into hour and
// day buckets as they age (compaction), so the table stays small however long burrow runs.
import type { Db } from './database.js';

export interface UsageAmounts {
  cpuSeconds: number;
  memoryGbSeconds: number;
  diskGbSeconds: number;
}

export interface UsageBucket extends UsageAmounts {
  sandboxId: string;
  sandboxName: string;
  /** Unix seconds. */
  start: number;
  seconds: number;
}

export interface UsageTotal extends UsageAmounts {
  sandboxId: string;
  sandboxName: string;
}

export class UsageStore {
  constructor(private readonly db: Db) {}

  /** Adds amounts to their buckets (creating them), in one transaction. */
  add(buckets: UsageBucket[]): void {
    const upsert = this.db.prepare(
      `INSERT INTO usage (sandbox_id, sandbox_name, start, seconds, cpu_seconds, memory_gb_seconds, disk_gb_seconds)
       VALUES (@sandboxId, @sandboxName, @start, @seconds, @cpuSeconds, @memoryGbSeconds, @diskGbSeconds)
       ON CONFLICT (sandbox_id, start, seconds) DO UPDATE SET
         sandbox_name = excluded.sandbox_name,
         cpu_seconds = cpu_seconds + excluded.cpu_seconds,
         memory_gb_seconds = memory_gb_seconds + excluded.memory_gb_seconds,
         disk_gb_seconds = disk_gb_seconds + excluded.disk_gb_seconds`,
    );
    this.db.transaction(() => {
      for (const b of buckets) upsert.run(b);
    })();
  }

  /** Totals per sandbox over buckets starting in [from, to), optionally for one name. */
  totals(from: number, to: number, name?: string): UsageTotal[] {
    return this.db
      .prepare(
        `SELECT sandbox_id AS sandboxId, MAX(sandbox_name) AS sandboxName, SUM(cpu_seconds) AS cpuSeconds,
           SUM(memory_gb_seconds) AS memoryGbSeconds, SUM(disk_gb_seconds) AS diskGbSeconds
         FROM usage WHERE start >= @from AND start < @to AND (@name IS NULL OR sandbox_name = @name)
         GROUP BY sandbox_id ORDER BY sandboxName, sandboxId`,
      )
      .all({ from, to, name: name ?? null }) as UsageTotal[];
  }

  /**
   * Sums over [from, to) in steps of `step` seconds counted from `from` (a bucket counts in the
   * step it starts in): one row per step that has any amount. The step's start is taken with
   * `%`, which works in integers; `/` would not round down, as better-sqlite3 binds JavaScript
   * numbers as REAL.
   */
  series(from: number, to: number, step: number, name?: string): Array<UsageAmounts & { start: number }> {
    return this.db
      .prepare(
        `SELECT start - (start - @from) % @step AS start, SUM(cpu_seconds) AS cpuSeconds,
           SUM(memory_gb_seconds) AS memoryGbSeconds, SUM(disk_gb_seconds) AS diskGbSeconds
         FROM usage WHERE start >= @from AND start < @to AND (@name IS NULL OR sandbox_name = @name)
         GROUP BY 1 ORDER BY 1`,
      )
      .all({ from, to, step, name: name ?? null }) as Array<UsageAmounts & { start: number }>;
  }

  /**
   * Merges buckets shorter than `into` seconds that start before `before` into buckets of
   * `into` seconds. Amounts are kept exactly; only the time resolution is lost.
   */
  compact(before: number, into: number): number {
    let merged = 0;
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO usage (sandbox_id, sandbox_name, start, seconds, cpu_seconds, memory_gb_seconds, disk_gb_seconds)
           SELECT sandbox_id, MAX(sandbox_name), start - start % @into, @into,
             SUM(cpu_seconds), SUM(memory_gb_seconds), SUM(disk_gb_seconds)
           FROM usage WHERE seconds < @into AND start < @before - @before % @into
           GROUP BY sandbox_id, start - start % @into
           ON CONFLICT (sandbox_id, start, seconds) DO UPDATE SET
             cpu_seconds = cpu_seconds + excluded.cpu_seconds,
             memory_gb_seconds = memory_gb_seconds + excluded.memory_gb_seconds,
             disk_gb_seconds = disk_gb_seconds + excluded.disk_gb_seconds`,
        )
        .run({ before, into });
      merged = this.db
        .prepare('DELETE FROM usage WHERE seconds < @into AND start < @before - @before % @into')
        .run({ before, into }).changes;
    })();
    return merged;
  }

  rowCount(): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM usage').get() as { n: number }).n;
  }
}
