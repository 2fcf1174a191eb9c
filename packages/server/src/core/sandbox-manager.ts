// The sandbox manager owns every sandbox's state transitions: create, wake, sleep, death,
// destroy. Each multi-step operation writes its intent to the database first (`creating`,
// `destroying`) so that a crash at any step leaves something the reconciler can finish or undo
// on the next start. How a boot itself runs (container, cgroup, mounts) is sandbox-containers.ts;
// other modules change a sandbox only under its lock, through withLock's LockedSandbox.
import { randomBytes } from 'node:crypto';
import { constants } from 'node:os';
import type { ImageName, RuntimeKind } from '../config.js';
import { imageLabelOf, imageNameOf } from '../storage/image-recipes.js';
import { DuplicateNameError, type SandboxRecord } from '../db/sandboxes.js';
import { AGENT, launch, type SandboxProcessHandle } from '../runtime/agent.js';
import { DEFAULT_PATH } from '../runtime/oci-bundle.js';
import type { Activity } from './activity.js';
import { SandboxContainers, type ContainerDeps } from './sandbox-containers.js';
import { combineHooks, type SandboxHooks } from './sandbox-hooks.js';
import { DomainError, SandboxNotFound, SandboxExists, SandboxBusy, RuntimeFailed } from './errors.js';
import type { EventRecorder, EventType } from './events.js';
import { deathReason, type DeathRecorder } from './sandbox-health.js';
import type { Capacity } from './capacity.js';
import { KeyedMutex } from './keyed-mutex.js';
import { processExit, type ProcessExit } from './process-exit.js';
import { SandboxStatuses } from './sandbox-status.js';
import { LockedSandbox } from './locked-sandbox.js';
import type { Cgroup } from '../runtime/cgroup.js';
import type { Metrics } from './metrics.js';
import type { StorageRoom } from './storage-room.js';
import type { ProcessLimitWatch } from './process-limit.js';

export interface CreateOptions {
  name: string;
  runtime: RuntimeKind;
  /** The burrow image of a new disk; a disk made `from` another stands on that one's image. */
  image?: ImageName;
  cpus: number;
  ramMb: number;
  storageGb: number;
  pidsLimit: number;
  environment: Record<string, string>;
  labels: string[];
  urlSettings: { auth: string; private_access?: string };
  /** Wait (up to the configured time) for a running slot instead of failing with 429. */
  waitForCapacity?: boolean;
  /** Idle sleep overrides (null: the server's default; 0: never). */
  sleep?: { warmAfterMs: number | null; coldAfterMs: number | null };
  /**
   * A fork or an import: the sandbox stands on exactly this image, and `populate` gives it what it
   * starts with beyond an empty disk (a fork's snapshot of another sandbox's checkpoint, an
   * import's services), inside the create step, so a crash rolls it back with the sandbox.
   */
  from?: { image: string; populate(sandboxId: string): Promise<void> };
}

/** What a new sandbox gets for each of these that its request leaves out: every one is set. */
export type SandboxDefaults = Required<Pick<CreateOptions, 'runtime' | 'image' | 'cpus' | 'ramMb' | 'storageGb' | 'pidsLimit'>>;

export type { SandboxHooks } from './sandbox-hooks.js';
export type SleepDepth = 'warm' | 'cold';

export interface ExecOptions {
  /** argv; argv[0] is resolved through PATH inside the sandbox. */
  args: string[];
  /** When given, replaces the default environment (PATH stays unless it is set here). */
  env?: Record<string, string>;
  cwd?: string;
  /** Added over the default environment (ignored when `env` is given). */
  envOverlay?: Record<string, string>;
  /** Run as root instead of the sandbox user. */
  asRoot?: boolean;
  /** Run on a pseudo-terminal of this size. */
  tty?: { rows: number; cols: number };
}

export interface ManagerDeps extends ContainerDeps {
  /** Org-wide caps on running and warm sandboxes. */
  capacity: Capacity;
  /** A new sandbox (or fork) is refused while the pool is below its reserve. */
  storageRoom: Pick<StorageRoom, 'assertPoolRoom'>;
  events: EventRecorder;
  metrics: Pick<Metrics, 'execStarted' | 'woke'>;
  hooks?: SandboxHooks;
  /** Every use of a sandbox through the manager counts as activity for the idle timer. */
  activity?: Activity;
  /** Commands are refused, not hung, in a sandbox at its process limit. */
  processLimit?: Pick<ProcessLimitWatch, 'assertRoom' | 'relieve'>;
  /** The writer of every status change (default: one over `store` that throws on an illegal one). */
  statuses?: SandboxStatuses;
}

/** A command started by `exec`: its process, and how it ended as its caller is to be told. */
export interface ExecHandle extends SandboxProcessHandle {
  readonly exited: Promise<ProcessExit>;
}

/**
 * Run by root inside a gVisor sandbox: prints how many processes there are besides init and
 * itself, then SIGKILLs them all (kill -1 spares init and the caller). With none, kill -1
 * would fail with "No such process": there is nothing to do then.
 */
const KILL_ALL_BUT_INIT = 'n=0; for p in /proc/[0-9]*; do n=$((n+1)); done; echo $((n-2)); [ "$n" -le 2 ] || kill -KILL -1';

/**
 * The same inside a VM, where kill -1 would also end the bridge to the host (this script's
 * parent) and /proc also lists the guest kernel's own threads (PF_KTHREAD in the flags of
 * /proc/PID/stat, read after the command name, which may hold anything). Everything else is
 * stopped first, so that nothing forks while the list is walked, and the bridge continued after.
 */
const KILL_ALL_BUT_INIT_AND_BRIDGE = [
  'kill -STOP -1',
  'n=0',
  'for d in /proc/[0-9]*; do',
  '  p=${d#/proc/}',
  '  case $p in 1|$$|$PPID) continue;; esac',
  '  s=$(cat "$d/stat" 2>/dev/null) || continue',
  '  set -- ${s##*) }',
  '  [ $(( $7 & 0x200000 )) -eq 0 ] && kill -KILL "$p" 2>/dev/null && n=$((n+1))',
  'done',
  'kill -CONT $PPID',
  'echo $n',
].join('\n');

export const SANDBOX_USER = { uid: 1000, gid: 1000, name: 'user', home: '/home/user' };

export class SandboxManager implements DeathRecorder {
  /** How each boot runs: containers, cgroups, disks mounted, what was lately seen alive. */
  private readonly containers: SandboxContainers;
  private readonly locks = new KeyedMutex();
  private readonly statuses: SandboxStatuses;
  /** The wake in progress per name: concurrent callers share it instead of queueing for the lock. */
  private readonly wakes = new Map<string, Promise<SandboxRecord>>();

  private hooks: SandboxHooks | undefined;

  constructor(private readonly deps: ManagerDeps) {
    this.hooks = deps.hooks;
    this.statuses = deps.statuses ?? new SandboxStatuses(deps.store);
    this.containers = new SandboxContainers(deps, () => this.hooks);
  }

  /** Features built on the manager (services, the in-sandbox API) add their hooks once built. */
  addHooks(hooks: SandboxHooks): void {
    this.hooks = this.hooks ? combineHooks(this.hooks, hooks) : hooks;
  }

  list(): SandboxRecord[] {
    return this.deps.store.all();
  }

  get(name: string): SandboxRecord {
    const record = this.deps.store.byName(name);
    if (!record) throw new SandboxNotFound(name);
    return record;
  }

  /** The sandbox of this name, if there is one. */
  find(name: string): SandboxRecord | undefined {
    return this.deps.store.byName(name);
  }

  /** The sandbox with this id, if it still exists. */
  byId(id: string): SandboxRecord | undefined {
    return this.deps.store.byId(id);
  }

  exists(name: string): boolean {
    return this.deps.store.byName(name) !== undefined;
  }

  page(opts: { prefix: string; after: string; limit: number }): SandboxRecord[] {
    return this.deps.store.page(opts);
  }

  /** Org counters as the list endpoint reports them. */
  counts(): { running: number; warm: number; cold: number; running_limit: number; warm_limit: number } {
    const by = this.deps.store.countByStatus();
    return {
      running: by.running ?? 0,
      warm: by.warm ?? 0,
      cold: (by.cold ?? 0) + (by.failed ?? 0),
      running_limit: this.deps.capacity.limits.running,
      warm_limit: this.deps.capacity.limits.warm,
    };
  }

  update(
    name: string,
    patch: {
      urlSettings?: { auth?: string; private_access?: string };
      labels?: string[];
      /** Replaces the sandbox's environment for the commands started from now on. */
      environment?: Record<string, string>;
      sleep?: { warmAfterMs?: number | null; coldAfterMs?: number | null };
    },
  ): SandboxRecord {
    const record = this.get(name);
    this.deps.store.update(record.id, {
      urlSettings: patch.urlSettings ? { ...record.urlSettings, ...patch.urlSettings } : undefined,
      labels: patch.labels,
      environment: patch.environment,
      warmAfterMs: patch.sleep?.warmAfterMs,
      coldAfterMs: patch.sleep?.coldAfterMs,
    });
    return this.get(name);
  }

  /**
   * The container of a sandbox marked running died underneath (found by metering or a failed
   * liveness check): mark it failed with the reason, so that the next use boots it again.
   * False (and nothing done) if it runs after all, or is not marked running or warm.
   */
  async markDied(
    name: string,
    type: Extract<EventType, 'oom_killed' | 'failed'>,
    reason: string,
    detail?: Record<string, unknown>,
  ): Promise<boolean> {
    return this.withLock(name, async (sandbox) => {
      const record = sandbox.find();
      if (!record || (record.status !== 'running' && record.status !== 'warm')) return false;
      const state = await sandbox.runtime.state(record.containerId);
      if (state === 'running' || state === 'paused') return false;
      this.recordDeath(sandbox, type, reason, detail);
      return true;
    });
  }

  async create(opts: CreateOptions): Promise<SandboxRecord> {
    this.deps.capacity.refuseBeyondHost(opts);
    return this.withLock(opts.name, async (sandbox) => {
      const { store, crashPoint } = this.deps;
      const imageId = opts.from?.image ?? (opts.image && this.deps.images.idFor(opts.image));
      if (!imageId) throw new Error(`sandbox '${opts.name}' was given neither an image nor a disk to start from`);
      const image = imageLabelOf(imageId);
      if (!(await this.deps.images.isImported(imageId))) {
        throw new DomainError('unavailable', `image '${image}' is not built yet: run \`burrow image build ${image}\``);
      }
      const now = new Date().toISOString();
      const record: SandboxRecord = {
        id: randomBytes(6).toString('hex'),
        name: opts.name,
        status: 'creating',
        runtime: opts.runtime,
        image: imageId,
        imageName: imageNameOf(imageId),
        cpus: opts.cpus,
        ramMb: opts.ramMb,
        storageGb: opts.storageGb,
        pidsLimit: opts.pidsLimit,
        environment: opts.environment,
        labels: opts.labels,
        urlSettings: opts.urlSettings,
        failureReason: null,
        containerId: '',
        createdAt: now,
        updatedAt: now,
        lastRunningAt: null,
        lastWarmingAt: null,
        warmAfterMs: opts.sleep?.warmAfterMs ?? null,
        coldAfterMs: opts.sleep?.coldAfterMs ?? null,
        idBase: null, // given at the first boot that needs one
      };
      if (store.byName(opts.name)) {
        throw new SandboxExists(opts.name);
      }
      await this.deps.storageRoom.assertPoolRoom(opts.from ? `forking into '${opts.name}'` : `creating sandbox '${opts.name}'`);
      await this.deps.capacity.runningSlot(opts.name, opts.waitForCapacity ?? false);
      try {
        store.insert(record); // no await since the slot was found: the slot is ours
      } catch (e) {
        if (e instanceof DuplicateNameError) {
          throw new SandboxExists(opts.name);
        }
        throw e;
      }
      crashPoint('create:recorded');
      try {
        await opts.from?.populate(record.id);
        await this.deps.disks.create(record.id);
        crashPoint('create:subvolume');
        await this.hooks?.diskCreated(record);
        await sandbox.boot();
      } catch (e) {
        await sandbox.teardown().catch(() => {});
        store.delete(record.id);
        throw new RuntimeFailed(`creating sandbox '${opts.name}' failed: ${(e as Error).message}`);
      }
      sandbox.move('running');
      const limits = `${opts.cpus} CPU, ${opts.ramMb} MB RAM, ${opts.storageGb} GB disk, ${opts.pidsLimit} processes`;
      this.deps.events.record(record, 'created', `created (${opts.runtime}, ${image}; ${limits})`, {
        runtime: opts.runtime,
        image,
        cpus: opts.cpus,
        ram_mb: opts.ramMb,
        storage_gb: opts.storageGb,
        pids_limit: opts.pidsLimit,
      });
      return this.get(opts.name);
    });
  }

  async destroy(name: string): Promise<void> {
    await this.withLock(name, async (sandbox) => {
      const record = sandbox.record;
      sandbox.move('destroying');
      this.deps.crashPoint('destroy:marked');
      await sandbox.teardown();
      this.deps.store.delete(record.id);
      this.deps.events.record(record, 'destroyed', 'destroyed; its disk and checkpoints are deleted');
    });
  }

  /**
   * The one wake entry point: makes sure the sandbox's container runs, thawing a warm one,
   * booting a cold one (or one that died), and counting the call as activity. Concurrent calls
   * share one wake.
   */
  async ensureRunning(name: string): Promise<SandboxRecord> {
    const record = this.get(name);
    this.deps.activity?.touch(name);
    if (record.status === 'creating' || record.status === 'destroying') {
      throw new SandboxBusy(record);
    }
    if (record.status === 'running' && this.containers.recentlySeenRunning(record.id)) return record;
    const shared = this.wakes.get(name);
    if (shared) return shared;
    const wake = this.withLock(name, (sandbox) => this.wakeLocked(sandbox)).finally(() => this.wakes.delete(name));
    this.wakes.set(name, wake);
    const woken = await wake;
    this.deps.activity?.touch(name);
    return woken;
  }

  private async wakeLocked(sandbox: LockedSandbox): Promise<SandboxRecord> {
    const { name } = sandbox;
    const current = sandbox.record;
    if (current.status === 'destroying' || current.status === 'creating') {
      throw new SandboxBusy(current, { tryAgain: false });
    }
    const runtime = sandbox.runtime;
    const from = current.status;
    // Only a sandbox meant to be up has a container worth asking about: a cold one's container
    // may still be dying in the background, and its state file can say `paused` meanwhile.
    if (from === 'warm') {
      // Frozen by us: thaw straight away (runsc resume, ~20 ms); asking its state first would
      // cost as much again. A failed resume falls through to the checks below.
      await this.deps.capacity.runningSlot(name, true);
      const started = performance.now();
      if (await runtime.resume(current.containerId).then(() => true, () => false)) return this.resumed(sandbox, started);
    }
    if (from === 'running' || from === 'warm') {
      const state = await runtime.state(current.containerId);
      if (state === 'running') {
        if (from !== 'running') sandbox.move('running');
        sandbox.sawRunning();
        return sandbox.record;
      }
      if (state === 'paused') {
        const started = performance.now();
        if (await runtime.resume(current.containerId).then(() => true, () => false)) return this.resumed(sandbox, started);
      }
      await this.markDead(sandbox);
    }
    if (from !== 'running') await this.deps.capacity.runningSlot(name, true);
    const started = performance.now();
    try {
      await sandbox.boot();
    } catch (e) {
      const reason = `starting failed: ${(e as Error).message}`;
      sandbox.move('failed', { failureReason: reason });
      this.deps.events.record(current, 'failed', reason);
      throw new RuntimeFailed(`sandbox '${name}' could not be started: ${reason}`);
    }
    sandbox.move('running', { failureReason: null });
    this.recordWake(sandbox.find() ?? current, from, started, current.failureReason);
    return sandbox.record;
  }

  private resumed(sandbox: LockedSandbox, startedAt: number): SandboxRecord {
    const record = sandbox.record;
    sandbox.move('running');
    sandbox.sawRunning();
    this.recordWake(record, 'warm', startedAt);
    const woken = sandbox.record;
    setImmediate(() => this.hooks?.resumed?.(woken));
    return woken;
  }

  private recordWake(record: SandboxRecord, from: string, startedAt: number, failure?: string | null): void {
    const seconds = (performance.now() - startedAt) / 1000;
    this.deps.metrics.woke(from, seconds);
    const why = failure ? ` (it had failed: ${failure})` : '';
    this.deps.events.record(record, 'woke', `woke from ${from} in ${Math.round(seconds * 1000)} ms${why}`, {
      from,
      duration_ms: Math.round(seconds * 1000),
    });
  }

  /**
   * Puts a sandbox to sleep now: `warm` freezes it (memory kept), `cold` stops it (disk kept).
   * Over the warm limit, `warm` goes cold instead. `stillIdle`, checked under the lock, lets the
   * idle timer give up if a use began meanwhile.
   */
  async sleep(name: string, asked: SleepDepth, stillIdle: () => boolean = () => true): Promise<SandboxRecord> {
    return this.withLock(name, async (sandbox) => {
      const current = sandbox.record;
      if (current.status === 'creating' || current.status === 'destroying') {
        throw new SandboxBusy(current, { tryAgain: false });
      }
      const asleep = current.status === 'cold' || current.status === 'failed' || (asked === 'warm' && current.status === 'warm');
      if (asleep || !stillIdle()) return current;
      const depth = asked === 'warm' && !this.deps.capacity.has('warm') ? 'cold' : asked;
      const runtime = sandbox.runtime;
      const container = current.containerId;
      const started = performance.now();
      const state = await runtime.state(container);
      if (state !== 'running' && state !== 'paused') {
        await this.markDead(sandbox);
        return sandbox.record;
      }
      sandbox.forget();
      if (depth === 'warm') {
        if (state === 'running') await runtime.pause(container);
        sandbox.move('warm');
      } else {
        this.hooks?.stopping?.(current);
        this.deps.crashPoint('sleep:cold');
        await sandbox.retire();
        sandbox.move('cold');
      }
      const ms = Math.round(performance.now() - started);
      const what = depth === 'warm' ? 'went warm: frozen, memory kept' : 'went cold: stopped, disk kept, no memory used';
      const over = depth !== asked ? ` (the ${this.deps.capacity.limits.warm} warm sandboxes this server keeps are taken)` : '';
      this.deps.events.record(current, 'slept', `${what}${over} in ${ms} ms`, { to: depth, duration_ms: ms });
      return sandbox.record;
    });
  }

  /**
   * Reboots the sandbox on its disk: the container of this boot is killed (every process ends)
   * and a new one boots, so services start again and a new privileges policy applies. A warm or
   * cold sandbox is booted the same way (it needs a running slot).
   */
  async restart(name: string): Promise<SandboxRecord> {
    return this.withLock(name, async (sandbox) => {
      const current = sandbox.record;
      if (current.status === 'creating' || current.status === 'destroying') {
        throw new SandboxBusy(current);
      }
      if (current.status !== 'running') await this.deps.capacity.runningSlot(name, true);
      const started = performance.now();
      if (current.status === 'running' || current.status === 'warm') {
        this.hooks?.stopping?.(current);
        await sandbox.retire();
      }
      try {
        await sandbox.boot();
      } catch (e) {
        const reason = `restarting failed: ${(e as Error).message}`;
        sandbox.move('failed', { failureReason: reason });
        this.deps.events.record(current, 'failed', reason);
        throw new RuntimeFailed(`sandbox '${name}' could not be restarted: ${reason}`);
      }
      sandbox.move('running', { failureReason: null });
      this.deps.activity?.touch(name);
      const ms = Math.round(performance.now() - started);
      const restarted = sandbox.record;
      this.deps.events.record(restarted, 'restarted', `restarted from ${current.status} in ${ms} ms: disk kept, every process started again`, {
        from: current.status,
        duration_ms: ms,
      });
      return restarted;
    });
  }

  /**
   * Cheap liveness check for the idle timer: false (and the sandbox marked failed, with the
   * reason) when a running or warm sandbox's container is gone.
   */
  async checkAlive(record: SandboxRecord): Promise<boolean> {
    if (record.status !== 'running' && record.status !== 'warm') return true;
    if (await this.containers.hostProcessLives(record)) return true;
    return this.withLock(record.name, async (sandbox) => {
      const current = sandbox.find();
      if (!current || (current.status !== 'running' && current.status !== 'warm')) return true;
      const state = await sandbox.runtime.state(current.containerId);
      if (state === 'running' || state === 'paused') return true;
      await this.markDead(sandbox);
      return false;
    });
  }

  /** The container died underneath (OOM kill, runtime crash): record why; the next wake boots it. */
  private async markDead(sandbox: LockedSandbox): Promise<void> {
    const death = deathReason(sandbox.record, await sandbox.cgroup.memoryFacts());
    this.recordDeath(sandbox, death.type, death.reason, death.detail);
  }

  /** Marks a dead sandbox failed with the reason and records the event. */
  private recordDeath(sandbox: LockedSandbox, type: 'oom_killed' | 'failed', reason: string, detail?: Record<string, unknown>): void {
    const record = sandbox.record;
    sandbox.forget();
    this.hooks?.stopping?.(record);
    sandbox.move('failed', { failureReason: reason });
    this.deps.events.record(record, type, reason, detail);
  }

  async exec(name: string, opts: ExecOptions): Promise<ExecHandle> {
    const record = await this.ensureRunning(name);
    this.deps.metrics.execStarted();
    const user = opts.asRoot ? { uid: 0, gid: 0 } : SANDBOX_USER;
    const env = this.environmentFor(record, opts.env, opts.envOverlay);
    if (opts.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm-256color');
    this.assertRoom(record);
    const cgroup = this.containers.cgroupOf(record);
    const handle = launch(this.containers.runtimeOf(record), record.containerId, {
      args: opts.args,
      env,
      cwd: opts.cwd ?? (opts.asRoot ? '/root' : SANDBOX_USER.home),
      uid: user.uid,
      gid: user.gid,
      tty: opts.tty,
    });
    const exited = processExit(handle.child, { sandbox: record, oomKills: () => cgroup.read()?.oomKills ?? null });
    return Object.assign(handle, { exited });
  }

  private environmentFor(record: SandboxRecord, replacement?: Record<string, string>, overlay?: Record<string, string>): string[] {
    const base: Record<string, string> = {
      PATH: DEFAULT_PATH,
      HOME: SANDBOX_USER.home,
      USER: SANDBOX_USER.name,
      LOGNAME: SANDBOX_USER.name,
      SHELL: '/bin/bash',
      LANG: 'C.UTF-8',
      HOSTNAME: record.name,
    };
    const extra = this.hooks?.environment?.(record) ?? {};
    const env = replacement ? { PATH: DEFAULT_PATH, ...extra, ...replacement } : { ...base, ...extra, ...record.environment, ...overlay };
    return Object.entries(env).map(([k, v]) => `${k}=${v}`);
  }

  /** Resolves once the processes just killed are reaped and gone from the count (at most 10 s). */
  private async untilRoom(record: SandboxRecord): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const tasks = record.runtime === 'runc' ? this.containers.cgroupOf(record).read()?.pidsCurrent : await this.containers.runtimeOf(record).tasks(record.containerId);
      if ((tasks ?? 0) < record.pidsLimit / 2) return;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Refuses (409 `pids_exhausted`) a command that a sandbox at its process limit has no room to start. */
  assertRoom(record: SandboxRecord): void {
    this.deps.processLimit?.assertRoom(record, this.containers.cgroupOf(record).read());
  }

  /**
   * Ends every process in the sandbox but its init (services start again) and resolves with how
   * many it ended. It needs no room in the sandbox, so it stops a fork bomb: under runc through
   * the frozen cgroup; under gVisor, whose processes are not the host's, by one `kill -1` of its
   * own kernel (which spares init and the caller).
   */
  async killProcesses(name: string): Promise<number> {
    // One that died underneath (a gVisor runtime a fork bomb took down) is seen dead first,
    // and booted: nothing is left to kill.
    await this.checkAlive(this.get(name));
    await this.ensureRunning(name);
    return this.withLock(name, async (sandbox) => {
      const record = sandbox.record;
      if (record.status !== 'running') return 0;
      const runtime = sandbox.runtime;
      let killed: number;
      if (record.runtime === 'runc') {
        killed = await sandbox.cgroup.killAllBut(await runtime.hostPid(record.containerId));
      } else {
        try {
          const script = record.runtime === 'vm' ? KILL_ALL_BUT_INIT_AND_BRIDGE : KILL_ALL_BUT_INIT;
          const listed = await runtime.run(record.containerId, { args: ['/bin/sh', '-c', script], env: [], cwd: '/', uid: 0, gid: 0 }, 60_000);
          killed = Number(listed.trim()) || 0;
        } catch (e) {
          // Its runtime died meanwhile (the bomb took it down): recorded, and booted on next use.
          if ((await runtime.state(record.containerId)) === 'running') throw e;
          await this.markDead(sandbox);
          return 0;
        }
      }
      await this.untilRoom(record);
      this.deps.processLimit?.relieve(record.id);
      return killed;
    });
  }

  /** Signals a command by its agent token (one a previous daemon started, say). */
  async signalToken(name: string, token: string, signal: NodeJS.Signals): Promise<void> {
    const record = this.get(name);
    this.assertRoom(record);
    await this.containers.runtimeOf(record).run(record.containerId, {
      args: [AGENT, 'signal', token, String(constants.signals[signal])],
      env: [],
      cwd: '/',
      uid: 0,
      gid: 0,
    });
  }

  /**
   * Runs `fn` under the sandbox's lock: it never interleaves with create, wake, sleep or destroy
   * of `name`. `sandbox` is how `fn` changes what runs and records the status; it stops working
   * when `fn` is done.
   */
  withLock<T>(name: string, fn: (sandbox: LockedSandbox) => Promise<T>): Promise<T> {
    return this.locks.run(name, async () => {
      const sandbox = new LockedSandbox(name, { store: this.deps.store, containers: this.containers, statuses: this.statuses });
      try {
        return await fn(sandbox);
      } finally {
        sandbox.release();
      }
    });
  }

  /**
   * The host's files of a sandbox changed (a grant): a runtime that copies them in (a VM)
   * copies them again; a container sees them through its bind mounts already.
   */
  async copyFilesIn(sandboxId: string): Promise<void> {
    const record = this.byId(sandboxId);
    if (!record) return;
    await this.withLock(record.name, async (sandbox) => {
      const current = sandbox.find();
      if (current?.status !== 'running' && current?.status !== 'warm') return;
      await sandbox.runtime.copyFilesIn?.(current.containerId);
    });
  }

  /** The cgroup of the sandbox's current container, to read (metering, limits at start). */
  cgroupOf(record: Pick<SandboxRecord, 'containerId'>): Cgroup {
    return this.containers.cgroupOf(record);
  }

  /** The read-only image the sandbox's disk stands on. */
  imagePathOf(record: SandboxRecord): string {
    return this.containers.imagePath(record);
  }
}
