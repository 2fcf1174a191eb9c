// Metering against fake cgroups and disks: amounts are charged for the time between samples,
// CPU from counter differences (a reboot's new counter starts over), and written in buckets
// that compaction merges without losing any amount.
import { describe, expect, it } from 'vitest';
import { Meter } from '../src/core/meter.js';
import { DEFAULT_PRICES, Usage } from '../src/core/usage.js';
import { openDatabase } from '../src/db/database.js';
import type { SandboxRecord } from '../src/db/sandboxes.js';
import { UsageStore } from '../src/db/usage.js';
import type { CgroupReading } from '../src/runtime/cgroup.js';

const GIB = 2 ** 30;

function sandbox(id: string, status: SandboxRecord['status'], containerId = `${id}-c1`): SandboxRecord {
  return { id, name: `box-${id}`, status, containerId } as SandboxRecord;
}

function rig(start = Date.UTC(2025, 0, 1, 12, 0, 0)) {
  let now = start;
  const records: SandboxRecord[] = [];
  const cgroups = new Map<string, CgroupReading | null>();
  const disk = new Map<string, number>();
  const noticed: string[] = [];
  const usage = new UsageStore(openDatabase(':memory:'));
  const meter = new Meter({
    sandboxes: { all: () => records },
    usage,
    readCgroup: (r) => cgroups.get(r.id) ?? null,
    diskUsage: async () => disk,
    noticed: (r, f) => noticed.push(`${r.name} ${f.oomKilled ? 'oom' : ''}${f.stopped ? 'stopped' : ''}`),
    tickDuration: () => {},
    log: () => {},
    now: () => now,
  });
  return { records, cgroups, disk, noticed, usage, meter, advance: (ms: number) => (now += ms), now: () => now };
}

describe('the meter', () => {
  it('charges CPU from counter differences and memory and disk for the time between samples', async () => {
    const r = rig();
    r.records.push(sandbox('a', 'running'), sandbox('b', 'cold'));
    r.cgroups.set('a', { cpuNs: 5e9, memoryBytes: GIB, oomKills: 0, alive: true });
    r.disk.set('a', 2 * GIB).set('b', GIB);
    await r.meter.refreshDisk();
    await r.meter.sample(); // baseline
    r.advance(1000);
    r.cgroups.set('a', { cpuNs: 5.9e9, memoryBytes: GIB, oomKills: 0, alive: true });
    await r.meter.sample();
    r.advance(1000);
    // Rebooted into a new container: its cgroup's counter started from zero.
    r.records[0] = sandbox('a', 'running', 'a-c2');
    r.cgroups.set('a', { cpuNs: 1e9, memoryBytes: 2 * GIB, oomKills: 0, alive: true });
    await r.meter.flush();
    const [a, b] = r.usage.totals(0, 2e9);
    expect(a).toMatchObject({ sandboxName: 'box-a', cpuSeconds: expect.closeTo(1.9, 6), memoryGbSeconds: 3, diskGbSeconds: 4 });
    // A cold sandbox pays for its disk only.
    expect(b).toMatchObject({ sandboxName: 'box-b', cpuSeconds: 0, memoryGbSeconds: 0, diskGbSeconds: 2 });
  });

  it('reports an OOM kill once, and a sandbox whose cgroup emptied as stopped once', async () => {
    const r = rig();
    r.records.push(sandbox('a', 'running'));
    r.cgroups.set('a', { cpuNs: 0, memoryBytes: 0, oomKills: 0, alive: true });
    await r.meter.sample();
    r.cgroups.set('a', { cpuNs: 0, memoryBytes: 0, oomKills: 1, alive: false });
    await r.meter.sample();
    await r.meter.sample();
    expect(r.noticed).toEqual(['box-a oomstopped']);
  });

  it('compacts 10 s buckets into hours and days, keeping every amount', async () => {
    const r = rig();
    const day = Math.floor(Date.UTC(2025, 0, 1) / 1000);
    r.usage.add(
      Array.from({ length: 720 }, (_, i) => ({
        sandboxId: 'a', sandboxName: 'box-a', start: day + i * 10, seconds: 10, cpuSeconds: 1, memoryGbSeconds: 2, diskGbSeconds: 3,
      })),
    );
    expect(r.usage.rowCount()).toBe(720);
    r.usage.compact(day + 3 * 86_400, 3600);
    expect(r.usage.rowCount()).toBe(2);
    r.usage.compact(day + 60 * 86_400, 86_400);
    expect(r.usage.rowCount()).toBe(1);
    expect(r.usage.totals(day, day + 86_400)[0]).toMatchObject({ cpuSeconds: 720, memoryGbSeconds: 1440, diskGbSeconds: 2160 });
  });
});

describe('usage reports', () => {
  it('prices CPU, memory and disk at the Sprites rates by default', () => {
    const usage = new Usage({ store: new UsageStore(openDatabase(':memory:')), flush: async () => {}, prices: DEFAULT_PRICES });
    // One vCPU-hour, one GB-hour of RAM, one GB-month (730 h) of disk.
    const cost = usage.cost({ cpuSeconds: 3600, memoryGbSeconds: 3600, diskGbSeconds: 730 * 3600 });
    expect(cost).toEqual({ cpu: 0.07, memory: 0.04375, storage: 0.5, total: 0.61375 });
  });

  it('sums a range per sandbox and as a series of at most 60 points', async () => {
    const store = new UsageStore(openDatabase(':memory:'));
    const t0 = 1_700_000_000 - (1_700_000_000 % 3600);
    store.add([
      { sandboxId: 'a', sandboxName: 'one', start: t0, seconds: 10, cpuSeconds: 3, memoryGbSeconds: 1, diskGbSeconds: 3600 },
      { sandboxId: 'b', sandboxName: 'two', start: t0 + 1800, seconds: 10, cpuSeconds: 1, memoryGbSeconds: 0, diskGbSeconds: 0 },
      { sandboxId: 'a', sandboxName: 'one', start: t0 + 7200, seconds: 10, cpuSeconds: 100, memoryGbSeconds: 0, diskGbSeconds: 0 },
    ]);
    const usage = new Usage({ store, flush: async () => {}, prices: DEFAULT_PRICES });
    const report = await usage.report({ from: new Date(t0 * 1000), to: new Date((t0 + 3600) * 1000) });
    expect(report.sprites.map((s) => [s.name, s.cpu_seconds, s.disk_gb_hours])).toEqual([['one', 3, 1], ['two', 1, 0]]);
    expect(report.total.cpu_seconds).toBe(4);
    expect(report.series.step_seconds).toBe(60);
    expect(report.series.points.map((p) => p.cpu_seconds)).toEqual([3, 1]);
    const one = await usage.report({ from: new Date(t0 * 1000), to: new Date((t0 + 3600) * 1000) }, 'two');
    expect(one.sprites.map((s) => s.name)).toEqual(['two']);
  });

  it('buckets 10 s amounts into the step the series declares, counted from `from`, summing each bucket', async () => {
    const store = new UsageStore(openDatabase(':memory:'));
    const t0 = 1_700_000_000 - (1_700_000_000 % 3600);
    // A day of 10 s buckets, 0.1 CPU-s and 0.5 GB-s each, and a range that starts off the 10 s grid.
    store.add(
      Array.from({ length: 8640 }, (_, i) => ({
        sandboxId: 'a', sandboxName: 'one', start: t0 + i * 10, seconds: 10, cpuSeconds: 0.1, memoryGbSeconds: 0.5, diskGbSeconds: 0,
      })),
    );
    const usage = new Usage({ store, flush: async () => {}, prices: DEFAULT_PRICES });
    const from = t0 + 7;
    const report = await usage.report({ from: new Date(from * 1000), to: new Date((from + 86_400) * 1000) });
    const step = report.series.step_seconds;
    expect(step).toBe(1800);
    const starts = report.series.points.map((p) => Date.parse(p.start) / 1000);
    expect(starts).toHaveLength(48);
    starts.forEach((start, i) => expect(start).toBe(from + i * step));
    // 180 buckets of 10 s start in each step; the metered day ends 7 s before the last step does.
    expect(report.series.points[0]).toMatchObject({ cpu_seconds: 18, memory_gb_seconds: 90 });
    expect(report.series.points[47]).toMatchObject({ cpu_seconds: 17.9, memory_gb_seconds: 89.5 });
    const sum = report.series.points.reduce((a, p) => a + p.cpu_seconds, 0);
    expect(sum).toBeCloseTo(report.total.cpu_seconds, 6);
  });
});
