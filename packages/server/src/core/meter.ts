// Metering: once a second, every running or warm sandbox's CPU time and memory are read from its
// cgroup, and every sandbox's disk (live subvolume plus checkpoints, from btrfs quota groups,
// refreshed less often) is charged for the time since the last sample. Amounts collect in memory
// and are written to SQLite in 10 s buckets; old buckets are compacted into hours, then days.
// The same pass notices sandboxes the OOM killer hit, since it reads their memory cgroup anyway,
// and hands each reading on (the process-limit watch reads its pids counters).
import type { SandboxRecord, SandboxStore } from '../db/sandboxes.js';
import type { UsageBucket, UsageStore } from '../db/usage.js';
import type { CgroupReading } from '../runtime/cgroup.js';

const GIB = 2 ** 30;
const BUCKET_SECONDS = 10;
const HOUR = 3600;
const DAY = 86_400;

export interface MeterIntervals {
  /** How often cgroups are read (the metering resolution). */
  sampleMs: number;
  /** How often amounts are written to the database. */
  flushMs: number;
  /** How often disk usage is read from btrfs quota groups. */
  diskMs: number;
  /** How often old buckets are compacted. */
  compactMs: number;
}

export const DEFAULT_METER_INTERVALS: MeterIntervals = { sampleMs: 1000, flushMs: 10_000, diskMs: 30_000, compactMs: 600_000 };

export interface MeterDeps {
  sandboxes: Pick<SandboxStore, 'all'>;
  usage: UsageStore;
  /** Current counters of a sandbox's cgroup; null when it has none (not running). */
  readCgroup: (record: SandboxRecord) => CgroupReading | null;
  /** Bytes on disk per sandbox id (live disk plus checkpoints). */
  diskUsage: () => Promise<Map<string, number>>;
  /**
   * Something is wrong with a live sandbox: the OOM killer killed in it (`oomKilled`), or no
   * process is left in its cgroup (`stopped`: it died underneath). Called once per finding.
   */
  noticed: (record: SandboxRecord, finding: { oomKilled: boolean; stopped: boolean }) => void;
  /** Every reading of a running or warm sandbox, for watches that need more than the counters. */
  observed?: (record: SandboxRecord, reading: CgroupReading | null) => void;
  tickDuration: (seconds: number) => void;
  log: (line: string) => void;
  intervals?: Partial<MeterIntervals>;
  /** Unix time in ms; replaced in tests. */
  now?: () => number;
}

interface Pending {
  name: string;
  cpuSeconds: number;
  memoryGbSeconds: number;
  diskGbSeconds: number;
}

export class Meter {
  private readonly intervals: MeterIntervals;
  private readonly now: () => number;
  /** Last CPU counter per sandbox id, and the container whose cgroup it came from. */
  private readonly lastCpu = new Map<string, { container: string; ns: number }>();
  private readonly lastOomKills = new Map<string, number>();
  /** Sandboxes already reported stopped, until they have processes again. */
  private readonly reportedStopped = new Set<string>();
  private diskBytes = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  private lastSampleAt: number;
  /** Samples and flushes run one at a time: each extends this chain. */
  private chain: Promise<void> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];

  constructor(private readonly deps: MeterDeps) {
    this.intervals = { ...DEFAULT_METER_INTERVALS, ...deps.intervals };
    this.now = deps.now ?? Date.now;
    this.lastSampleAt = this.now();
  }

  start(): void {
    const every = (ms: number, fn: () => Promise<unknown>) => {
      const timer = setInterval(() => void fn().catch((e: Error) => this.deps.log(`metering: ${e.message}`)), ms);
      timer.unref();
      this.timers.push(timer);
    };
    void this.refreshDisk().catch((e: Error) => this.deps.log(`metering: disk usage: ${e.message}`));
    every(this.intervals.sampleMs, () => this.sample());
    every(this.intervals.flushMs, () => this.flush());
    every(this.intervals.diskMs, () => this.refreshDisk());
    every(this.intervals.compactMs, async () => this.compact());
  }

  /** Stops the timers and writes what was measured since the last flush. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.flush();
  }

  /** One sample of every sandbox, charged for the time since the previous one. */
  sample(): Promise<void> {
    return this.serialized(() => this.takeSample());
  }

  /** Samples, then writes everything measured so far: what a usage query calls first. */
  flush(): Promise<void> {
    return this.serialized(async () => {
      await this.takeSample();
      this.write();
    });
  }

  async refreshDisk(): Promise<void> {
    this.diskBytes = await this.deps.diskUsage();
  }

  compact(): void {
    const nowS = Math.floor(this.now() / 1000);
    this.deps.usage.compact(nowS - DAY, HOUR);
    this.deps.usage.compact(nowS - 30 * DAY, DAY);
  }

  private serialized(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => {});
    return next;
  }

  private async takeSample(): Promise<void> {
    const started = performance.now();
    const at = this.now();
    const dt = Math.max(0, (at - this.lastSampleAt) / 1000);
    this.lastSampleAt = at;
    const records = this.deps.sandboxes.all();
    const live = records.filter((r) => r.status === 'running' || r.status === 'warm');
    const readings = live.map((r) => this.deps.readCgroup(r));
    for (const record of records) {
      const disk = this.diskBytes.get(record.id) ?? 0;
      if (disk > 0) this.charge(record, { diskGbSeconds: (disk / GIB) * dt });
    }
    live.forEach((record, i) => {
      this.chargeCgroup(record, readings[i] ?? null, dt);
      this.deps.observed?.(record, readings[i] ?? null);
    });
    const known = new Set(records.map((r) => r.id));
    for (const id of this.lastCpu.keys()) if (!known.has(id)) this.lastCpu.delete(id);
    this.deps.tickDuration((performance.now() - started) / 1000);
  }

  private chargeCgroup(record: SandboxRecord, reading: CgroupReading | null, dt: number): void {
    if (!reading) {
      // No cgroup: the container is gone. Its next cgroup starts counting from zero.
      this.lastCpu.delete(record.id);
      this.lastOomKills.delete(record.id);
      this.reportedStopped.delete(record.id);
      return;
    }
    const last = this.lastCpu.get(record.id);
    this.lastCpu.set(record.id, { container: record.containerId, ns: reading.cpuNs });
    if (last && last.container !== record.containerId) {
      this.lastOomKills.delete(record.id);
      this.reportedStopped.delete(record.id);
    }
    // The first reading after the daemon starts only sets the baseline. A new container (each
    // boot has its own) has a new cgroup whose counter started at zero: all of it is new.
    const cpuNs = !last ? 0 : last.container !== record.containerId || reading.cpuNs < last.ns ? reading.cpuNs : reading.cpuNs - last.ns;
    this.charge(record, { cpuSeconds: cpuNs / 1e9, memoryGbSeconds: (reading.memoryBytes / GIB) * dt });
    const before = this.lastOomKills.get(record.id) ?? 0;
    this.lastOomKills.set(record.id, reading.oomKills);
    const oomKilled = reading.oomKills > before;
    const stopped = !reading.alive && !this.reportedStopped.has(record.id);
    if (reading.alive) this.reportedStopped.delete(record.id);
    else this.reportedStopped.add(record.id);
    if (oomKilled || stopped) this.deps.noticed(record, { oomKilled, stopped: !reading.alive });
  }

  private charge(record: SandboxRecord, amounts: Partial<Omit<Pending, 'name'>>): void {
    let p = this.pending.get(record.id);
    if (!p) this.pending.set(record.id, (p = { name: record.name, cpuSeconds: 0, memoryGbSeconds: 0, diskGbSeconds: 0 }));
    p.cpuSeconds += amounts.cpuSeconds ?? 0;
    p.memoryGbSeconds += amounts.memoryGbSeconds ?? 0;
    p.diskGbSeconds += amounts.diskGbSeconds ?? 0;
  }

  private write(): void {
    if (this.pending.size === 0) return;
    const nowS = Math.floor(this.now() / 1000);
    const start = nowS - (nowS % BUCKET_SECONDS);
    const buckets: UsageBucket[] = [...this.pending].map(([sandboxId, p]) => ({
      sandboxId,
      sandboxName: p.name,
      start,
      seconds: BUCKET_SECONDS,
      cpuSeconds: p.cpuSeconds,
      memoryGbSeconds: p.memoryGbSeconds,
      diskGbSeconds: p.diskGbSeconds,
    }));
    this.deps.usage.add(buckets);
    this.pending.clear();
  }
}
