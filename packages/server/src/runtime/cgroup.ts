// A sandbox's cgroups (v1, as on these hosts): the counters metering reads and the limits that
// can be changed while the sandbox runs. Both runtimes put the whole sandbox (for gVisor: its
// kernel, gofer and every process) under the bundle's cgroupsPath in each controller.
import { readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';
const CPU_PERIOD_US = 100_000;

export interface CgroupReading {
  /** Total CPU time of the sandbox, nanoseconds, since its cgroup was made (at boot). */
  cpuNs: number;
  memoryBytes: number;
  /** Times the kernel's OOM killer killed a process of the sandbox. */
  oomKills: number;
  /** Whether any process is left: a dead sandbox's cgroup stays until the runtime deletes it. */
  alive: boolean;
}

export class Cgroup {
  /** @param path the bundle's `linux.cgroupsPath`, e.g. `/burrow-ab12cd-0123456789ab` */
  constructor(readonly path: string) {}

  private file(controller: string, name: string): string {
    return join(ROOT, controller, this.path, name);
  }

  /**
   * Null when the cgroup does not exist (the sandbox is not running). Read synchronously: these
   * are kernel counters, a few microseconds each, and the meter reads four per live sandbox
   * every second; going through libuv's small thread pool would queue them behind (and delay)
   * real file I/O.
   */
  read(): CgroupReading | null {
    try {
      const cpu = readFileSync(this.file('cpuacct', 'cpuacct.usage'), 'utf8');
      const memory = readFileSync(this.file('memory', 'memory.usage_in_bytes'), 'utf8');
      const oom = readFileSync(this.file('memory', 'memory.oom_control'), 'utf8');
      const procs = readFileSync(this.file('memory', 'cgroup.procs'), 'utf8');
      return {
        cpuNs: Number(cpu),
        memoryBytes: Number(memory),
        oomKills: Number(/^oom_kill (\d+)/m.exec(oom)?.[1] ?? 0),
        alive: procs.trim() !== '',
      };
    } catch {
      return null;
    }
  }

  /** What the memory controller says about the sandbox, for failure reasons. */
  async memoryFacts(): Promise<{ limitBytes: number; peakBytes: number; failcnt: number; oomKills: number } | null> {
    try {
      const [limit, peak, failcnt, oom] = await Promise.all([
        readFile(this.file('memory', 'memory.limit_in_bytes'), 'utf8'),
        readFile(this.file('memory', 'memory.max_usage_in_bytes'), 'utf8'),
        readFile(this.file('memory', 'memory.failcnt'), 'utf8'),
        readFile(this.file('memory', 'memory.oom_control'), 'utf8'),
      ]);
      return {
        limitBytes: Number(limit),
        peakBytes: Number(peak),
        failcnt: Number(failcnt),
        oomKills: Number(/^oom_kill (\d+)/m.exec(oom)?.[1] ?? 0),
      };
    } catch {
      return null;
    }
  }

  /**
   * Changes the limits of a running sandbox. Lowering memory below what the sandbox uses fails
   * (EBUSY) after the kernel tried to reclaim: the old limit then stays.
   */
  async setLimits(limits: { cpus: number; ramMb: number; pidsLimit: number }): Promise<void> {
    await writeFile(this.file('cpu', 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    await writeFile(this.file('cpu', 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * CPU_PERIOD_US)));
    await writeFile(this.file('pids', 'pids.max'), String(limits.pidsLimit));
    try {
      await writeFile(this.file('memory', 'memory.limit_in_bytes'), String(limits.ramMb * 1024 * 1024));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EBUSY') {
        throw new Error(`the sandbox uses more than ${limits.ramMb} MB right now, so its memory limit cannot go that low`);
      }
      throw e;
    }
  }
}
