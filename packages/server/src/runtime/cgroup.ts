// A sandbox's cgroups (v1, as on these hosts): the counters metering reads, the limits that
// can be changed while the sandbox runs, and the freezer checkpoints use. Both runtimes put the whole sandbox (for gVisor: its
// kernel, gofer and every process) under the bundle's cgroupsPath in each controller.
import { readFileSync } from 'node:fs';
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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

  /** Whether the host has a v1 freezer cgroup for the sandbox (one that runs has). */
  async hasFreezer(): Promise<boolean> {
    return access(this.file('freezer', 'freezer.state')).then(
      () => true,
      () => false,
    );
  }

  /**
   * Stops every host process of the sandbox (for gVisor: its kernel, gofer and ptrace stubs) in
   * about a millisecond, against 25-50 ms for a `runsc pause` launch; resolves once all are
   * frozen. A task inside a system call freezes when the call returns, so a write that has
   * begun reaches the host's files first.
   */
  async freeze(timeoutMs = 10_000): Promise<void> {
    const state = this.file('freezer', 'freezer.state');
    await writeFile(state, 'FROZEN');
    const deadline = Date.now() + timeoutMs;
    while ((await readFile(state, 'utf8')).trim() !== 'FROZEN') {
      if (Date.now() > deadline) {
        await writeFile(state, 'THAWED');
        throw new Error(`cgroup ${this.path} did not freeze within ${timeoutMs} ms`);
      }
      await sleep(1);
    }
  }

  /** Thaws the sandbox; one that is not frozen, or whose cgroup is gone, is left as it is. */
  async thaw(): Promise<void> {
    await writeFile(this.file('freezer', 'freezer.state'), 'THAWED').catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}
