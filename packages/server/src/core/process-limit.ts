// A sandbox at its process limit (a fork bomb, or a build that forks too much): noticed from the
// readings the meter takes anyway, recorded once per episode as a `pids_exhausted` event, and
// shown in the sandbox's state until it has room again.
//
// How the limit bites differs by runtime. Under runc every process inside is a host task, so
// the pids cgroup refuses the fork and counts it (`pids.events`). Under gVisor the host tasks
// are the runtime's own (see hostTaskLimit in oci-bundle.ts), and the limit inside is
// RLIMIT_NPROC, which its own kernel enforces and the host cannot see: when the host count
// climbs, the runtime is asked how many tasks it runs.
import type { SandboxRecord } from '../db/sandboxes.js';
import type { CgroupReading } from '../runtime/cgroup.js';
import { DomainError } from './errors.js';
import type { EventRecorder } from './events.js';

/** Host tasks a command's start needs: `runc exec` and its Go runtime's threads, the agent's client. */
const START_TASKS = 16;
/**
 * A sandbox has room again once this far below its limit, with no fork refused for
 * {@link RELIEF_QUIET_MS}: a bomb's population dips for a moment whenever some of it exits.
 */
const RELIEF_MARGIN = 32;
const RELIEF_QUIET_MS = 10_000;
/** Under gVisor, the runtime is asked once its host tasks pass this share of pids_limit... */
const GVISOR_SUSPECT_SHARE = 0.5;
/** ...at most this often per sandbox. */
const GVISOR_PROBE_MS = 3000;

export interface ProcessLimitDeps {
  events: EventRecorder;
  /** The tasks a gVisor sandbox's kernel runs, null when it cannot tell. */
  guestTasks: (record: SandboxRecord) => Promise<number | null>;
  now?: () => number;
}

interface Watched {
  container: string;
  refused: number;
  exhausted: boolean;
  /** When the limit last bit (a refusal counted, or the runtime at its cap). */
  lastFullAt: number;
  lastProbeAt: number;
  probing: boolean;
}

export class ProcessLimitWatch {
  private readonly watched = new Map<string, Watched>();
  private readonly now: () => number;

  constructor(private readonly deps: ProcessLimitDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Whether the sandbox is at its process limit now. */
  isExhausted(record: Pick<SandboxRecord, 'id' | 'containerId'>): boolean {
    const w = this.watched.get(record.id);
    // What was seen of an earlier boot says nothing of this one: its cgroup is new.
    return w !== undefined && w.container === record.containerId && w.exhausted;
  }

  /**
   * Refuses a command a sandbox has no room to start: `runc exec` into a sandbox at its limit
   * fails after minutes with a Go stack dump ("pthread_create failed").
   */
  assertRoom(record: SandboxRecord, reading: CgroupReading | null): void {
    const hostFull = reading !== null && reading.pidsMax - reading.pidsCurrent < START_TASKS;
    if (!hostFull && !this.isExhausted(record)) return;
    throw new DomainError(
      'pids_exhausted',
      `sandbox '${record.name}' is at its limit of processes (pids_limit ${record.pidsLimit}), so nothing new can start in it: end its processes with \`burrow kill ${record.name}\` or raise the limit with \`burrow limits ${record.name} --pids N\``,
      { limit: record.pidsLimit },
    );
  }

  /** Its processes were just ended: it has room, whatever the last reading said. */
  relieve(id: string): void {
    this.watched.delete(id);
  }

  /** Takes one meter reading of a live sandbox (null: it has no cgroup, it is not running). */
  observe(record: SandboxRecord, reading: CgroupReading | null): void {
    let w = this.watched.get(record.id);
    if (!reading) {
      this.watched.delete(record.id);
      return;
    }
    if (!w || w.container !== record.containerId) {
      // A new boot has a new cgroup, whose refusals start from zero.
      w = { container: record.containerId, refused: reading.pidsRefused, exhausted: false, lastFullAt: 0, lastProbeAt: -Infinity, probing: false };
      this.watched.set(record.id, w);
    }
    if (record.runtime === 'gvisor') this.observeGuest(record, reading, w);
    else this.observeHost(record, reading, w);
  }

  private observeHost(record: SandboxRecord, reading: CgroupReading, w: Watched): void {
    const refusedNow = reading.pidsRefused > w.refused;
    w.refused = reading.pidsRefused;
    if (refusedNow) this.full(record, w, reading.pidsCurrent);
    else if (reading.pidsCurrent < reading.pidsMax - RELIEF_MARGIN) this.roomy(w);
  }

  private observeGuest(record: SandboxRecord, reading: CgroupReading, w: Watched): void {
    if (reading.pidsCurrent < record.pidsLimit * GVISOR_SUSPECT_SHARE) {
      this.roomy(w);
      return;
    }
    if (w.probing || this.now() - w.lastProbeAt < GVISOR_PROBE_MS) return;
    w.probing = true;
    w.lastProbeAt = this.now();
    void this.deps
      .guestTasks(record)
      .then((tasks) => {
        if (tasks === null || this.watched.get(record.id) !== w) return;
        if (tasks >= record.pidsLimit) this.full(record, w, tasks);
        else if (tasks < record.pidsLimit - RELIEF_MARGIN) this.roomy(w);
      })
      .catch(() => {})
      .finally(() => (w.probing = false));
  }

  private roomy(w: Watched): void {
    if (w.exhausted && this.now() - w.lastFullAt >= RELIEF_QUIET_MS) w.exhausted = false;
  }

  /** The limit bites: the first time in an episode, the event is recorded. */
  private full(record: SandboxRecord, w: Watched, current: number): void {
    w.lastFullAt = this.now();
    if (w.exhausted) return;
    w.exhausted = true;
    const per = record.runtime === 'gvisor' ? ' per user' : '';
    this.deps.events.record(
      record,
      'pids_exhausted',
      `reached its limit of ${record.pidsLimit} processes and threads${per}: new ones are refused (end them with \`burrow kill ${record.name}\`, or raise pids_limit)`,
      { limit: record.pidsLimit, current, runtime: record.runtime },
    );
  }
}
