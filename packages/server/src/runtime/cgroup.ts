// A sandbox's cgroups (v1, as on these hosts): the counters metering reads, the limits that
// can be changed while the sandbox runs, and the freezer checkpoints use. Both runtimes put the whole sandbox (for gVisor: its
// kernel, gofer and every process) under the bundle's cgroupsPath in each controller.
import { readFileSync } from 'node:fs';
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RuntimeKind } from '../config.js';
import { hostTaskLimit } from './oci-bundle.js';

const ROOT = '/sys/fs/cgroup';
const CPU_PERIOD_US = 100_000;
/** The controllers a sandbox's cgroup lives in: what metering, limits and checkpoints read. */
const CONTROLLERS = ['cpu', 'cpuacct', 'memory', 'pids', 'freezer'] as const;

/** What a cgroup made by burrow itself (see `enter`) limits. */
export interface CgroupLimits {
  cpus: number;
  memoryBytes: number;
  tasks: number;
}

export interface CgroupReading {
  /** Total CPU time of the sandbox, nanoseconds, since its cgroup was made (at boot). */
  cpuNs: number;
  memoryBytes: number;
  /** Times the kernel's OOM killer killed a process of the sandbox. */
  oomKills: number;
  /** Whether any process is left: a dead sandbox's cgroup stays until the runtime deletes it. */
  alive: boolean;
  /** Host tasks (processes and threads) in the sandbox now, and the most it may have. */
  pidsCurrent: number;
  pidsMax: number;
  /** Forks and clones refused so far because the sandbox was at `pidsMax`. */
  pidsRefused: number;
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
      const pidsCurrent = readFileSync(this.file('pids', 'pids.current'), 'utf8');
      const pidsMax = readFileSync(this.file('pids', 'pids.max'), 'utf8').trim();
      const pidsEvents = readFileSync(this.file('pids', 'pids.events'), 'utf8');
      return {
        cpuNs: Number(cpu),
        memoryBytes: Number(memory),
        oomKills: Number(/^oom_kill (\d+)/m.exec(oom)?.[1] ?? 0),
        alive: procs.trim() !== '',
        pidsCurrent: Number(pidsCurrent),
        pidsMax: pidsMax === 'max' ? Infinity : Number(pidsMax),
        pidsRefused: Number(/^max (\d+)/m.exec(pidsEvents)?.[1] ?? 0),
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
  async setLimits(limits: { cpus: number; ramMb: number; pidsLimit: number }, runtime: RuntimeKind): Promise<void> {
    await writeFile(this.file('cpu', 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    await writeFile(this.file('cpu', 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * CPU_PERIOD_US)));
    await writeFile(this.file('pids', 'pids.max'), String(hostTaskLimit(runtime, limits.pidsLimit)));
    try {
      await writeFile(this.file('memory', 'memory.limit_in_bytes'), String(limits.ramMb * 1024 * 1024));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EBUSY') {
        throw new Error(`the sandbox uses more than ${limits.ramMb} MB right now, so its memory limit cannot go that low`);
      }
      throw e;
    }
  }

  /**
   * Makes the cgroup in every controller, sets its limits and moves `pid` (all its threads) into
   * it: what runc does for a container, for a process burrow starts itself (a VM's QEMU).
   */
  async enter(pid: number, limits: CgroupLimits): Promise<void> {
    for (const controller of CONTROLLERS) await mkdir(join(ROOT, controller, this.path), { recursive: true });
    await writeFile(this.file('cpu', 'cpu.cfs_period_us'), String(CPU_PERIOD_US));
    await writeFile(this.file('cpu', 'cpu.cfs_quota_us'), String(Math.round(limits.cpus * CPU_PERIOD_US)));
    await writeFile(this.file('memory', 'memory.limit_in_bytes'), String(limits.memoryBytes));
    await writeFile(this.file('pids', 'pids.max'), String(limits.tasks));
    for (const controller of CONTROLLERS) await writeFile(this.file(controller, 'cgroup.procs'), String(pid));
  }

  /**
   * Deletes the cgroup made by `enter`; one already gone is no error. A process killed just
   * before leaves it a moment later (EBUSY until then).
   */
  async remove(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const controller of CONTROLLERS) {
      for (;;) {
        const error = await rmdir(join(ROOT, controller, this.path)).then(
          () => null,
          (e: NodeJS.ErrnoException) => e,
        );
        if (!error || error.code === 'ENOENT') break;
        if (error.code !== 'EBUSY' || Date.now() > deadline) throw error;
        await sleep(20);
      }
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

  /**
   * SIGKILLs every host process of the sandbox but `spare`, and resolves with how many it
   * killed. The cgroup is frozen meanwhile, so nothing can fork while the list is read and
   * signalled: a fork bomb ends in one round, and no `exec` into the sandbox is needed (a
   * sandbox at its pids limit cannot start one).
   */
  async killAllBut(spare: number): Promise<number> {
    let killed = 0;
    await this.freeze();
    try {
      const procs = await readFile(this.file('freezer', 'cgroup.procs'), 'utf8');
      for (const pid of procs.split('\n').filter(Boolean).map(Number)) {
        if (pid === spare) continue;
        try {
          process.kill(pid, 'SIGKILL');
          killed++;
        } catch {
          // exited meanwhile
        }
      }
    } finally {
      // A frozen task acts on SIGKILL once thawed.
      await this.thaw();
    }
    return killed;
  }

  /** Thaws the sandbox; one that is not frozen, or whose cgroup is gone, is left as it is. */
  async thaw(): Promise<void> {
    await writeFile(this.file('freezer', 'freezer.state'), 'THAWED').catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  }
}
