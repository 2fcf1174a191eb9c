// What `df` shows inside a sandbox, and the `disk_full` event. btrfs has no statfs that knows
// quota groups: inside, statfs of `/` reports the whole pool. So the daemon keeps one small file
// per sandbox, `<limit bytes> <used bytes>`, in a host directory bind-mounted read-only at
// /.burrow/disk, and the shim preloaded into every process of a burrow image
// (image/gvisor-compat.c) answers statfs/statvfs for the sandbox's disk from it. A statically
// linked program does not load the shim and still sees the pool. The other ways were worse: a
// loop filesystem per sandbox would lose O(1) btrfs snapshots, FUSE is not available under
// gVisor, and asking the daemon over the in-sandbox API socket on every statfs costs a round
// trip in calls that tools make often. The file is replaced by rename, never written in place,
// so a reader never sees half a number; the bind is of its directory (not the file), so each
// open finds the newest one under both runtimes.
import { randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SandboxRecord, SandboxStore } from '../db/sandboxes.js';
import type { SandboxDisks } from '../storage/sandbox-disks.js';
import type { EventRecorder } from './events.js';
import type { SandboxHooks } from './sandbox-hooks.js';

export const DISK_DIR_INSIDE = '/.burrow/disk';
/** How often usage is read and the files rewritten; btrfs's own numbers move at each commit (30 s). */
export const DISK_GAUGE_INTERVAL_MS = 5_000;
const SIZE_FILE = 'size';
const GIB = 2 ** 30;
/** Writes fail with EDQUOT a little before the quota group reaches its limit (reservations). */
const FULL_AT = 0.99;
/** A full disk is reported again only after it had this much room once more. */
const ROOMY_BELOW = 0.95;

export interface DiskGaugeDeps {
  sandboxes: Pick<SandboxStore, 'all'>;
  disks: Pick<SandboxDisks, 'hostDir' | 'liveUsage'>;
  events: EventRecorder;
  intervalMs: number;
  log: (line: string) => void;
}

export class DiskGauge {
  /** Bytes each sandbox's disk held at the last reading, by sandbox id. */
  private used = new Map<string, number>();
  /** Sandboxes whose disk was found full and has not had room since. */
  private readonly full = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: DiskGaugeDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.refresh().catch((e: Error) => this.deps.log(`disk gauge: ${e.message}`)), this.deps.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  hooks(): SandboxHooks {
    return {
      diskCreated: async () => {},
      bootMounts: async (record) => {
        await this.publish(record);
        return { [DISK_DIR_INSIDE]: this.dirOf(record.id) };
      },
      tornDown: async (sandboxId) => {
        this.used.delete(sandboxId);
        this.full.delete(sandboxId);
      },
    };
  }

  /** Reads every sandbox's usage, updates the files of those that run, and reports full disks. */
  async refresh(): Promise<void> {
    this.used = await this.deps.disks.liveUsage();
    for (const record of this.deps.sandboxes.all()) {
      if (record.status !== 'running' && record.status !== 'warm') continue;
      try {
        await this.publish(record);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue; // destroyed meanwhile
        throw e;
      }
      this.noticeFull(record);
    }
  }

  private dirOf(sandboxId: string): string {
    return join(this.deps.disks.hostDir(sandboxId), 'disk');
  }

  /**
   * Writes the sandbox's size file. Its host directory must exist: a refresh that read the
   * sandbox as running just before it was destroyed must not make the directory again (it would
   * be left behind, or make the destroy's removal fail with ENOTEMPTY).
   */
  private async publish(record: SandboxRecord): Promise<void> {
    const dir = this.dirOf(record.id);
    await mkdir(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'EEXIST') throw e;
    });
    // A name of its own per write: a boot and a refresh may publish the same sandbox at once.
    const next = join(dir, `${SIZE_FILE}.${randomBytes(4).toString('hex')}`);
    await writeFile(next, `${record.storageGb * GIB} ${this.used.get(record.id) ?? 0}\n`);
    await rename(next, join(dir, SIZE_FILE));
  }

  private noticeFull(record: SandboxRecord): void {
    const used = this.used.get(record.id);
    if (used === undefined) return;
    const limit = record.storageGb * GIB;
    if (used < limit * ROOMY_BELOW) this.full.delete(record.id);
    if (used < limit * FULL_AT || this.full.has(record.id)) return;
    this.full.add(record.id);
    const mb = (bytes: number) => Math.round(bytes / 2 ** 20);
    this.deps.events.record(
      record,
      'disk_full',
      `disk full: it holds ${mb(used)} MB of its storage_gb limit of ${record.storageGb} GB; writes fail with "Disk quota exceeded" until files are deleted or the limit is raised`,
      { storage_gb: record.storageGb, used_bytes: used },
    );
  }
}
