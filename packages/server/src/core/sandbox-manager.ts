// The sandbox manager owns every sandbox's state transitions. Each multi-step operation writes
// its intent to the database first (`creating`, `destroying`) so that a crash at any step leaves
// something the reconciler can finish or undo on the next start.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import type { ImageName, RuntimeKind } from '../config.js';
import { DuplicateNameError, type SandboxRecord, type SandboxStore } from '../db/sandboxes.js';
import type { SandboxNetworks } from '../network/sandbox-network.js';
import { AGENT, launch, type SandboxProcessHandle } from '../runtime/agent.js';
import { bundleConfig, DEFAULT_PATH } from '../runtime/oci-bundle.js';
import { Cgroup } from '../runtime/cgroup.js';
import type { RuntimeSet } from '../runtime/runtimes.js';
import type { ImageStore } from '../storage/images.js';
import type { SandboxDisks } from '../storage/sandbox-disks.js';
import type { Activity } from './activity.js';
import { combineHooks, type SandboxHooks } from './sandbox-hooks.js';
import { ApiError, notFound } from './errors.js';
import type { EventRecorder, EventType } from './events.js';
import { deathReason } from './sandbox-health.js';
import type { Capacity } from './capacity.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { Metrics } from './metrics.js';

export interface CreateOptions {
  name: string;
  runtime: RuntimeKind;
  image: ImageName;
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
   * A fork: the new sandbox's disk is filled by `populate` (a snapshot of another sandbox's
   * checkpoint) instead of starting empty, over exactly that sandbox's image.
   */
  from?: { image: string; populate(sandboxId: string): Promise<void> };
}

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

export interface ManagerDeps {
  store: SandboxStore;
  runtimes: RuntimeSet;
  disks: SandboxDisks;
  images: ImageStore;
  network: SandboxNetworks;
  /** Prefix of host-global names (cgroups) owned by this instance. */
  instanceTag: string;
  /** Org-wide caps on running and warm sandboxes. */
  capacity: Capacity;
  events: EventRecorder;
  metrics: Pick<Metrics, 'execStarted' | 'woke'>;
  /** Whether btrfs quota groups are on, so that storage_gb is enforced at each boot. */
  storageLimits: boolean;
  /** Test hook: called at each named step; kills the daemon when the step was asked for. */
  crashPoint: (step: string) => void;
  hooks?: SandboxHooks;
  /** Every use of a sandbox through the manager counts as activity for the idle timer. */
  activity?: Activity;
}

export const SANDBOX_USER = { uid: 1000, gid: 1000, name: 'user', home: '/home/user' };
const LIVENESS_TTL_MS = 2_000;

export class SandboxManager {
  private readonly locks = new KeyedMutex();
  /**
   * When each sandbox's container was last seen running. Asking the runtime costs a process
   * launch (~25 ms under runsc), too much to pay on every exec; a container that died since is
   * caught by the next check, at most LIVENESS_TTL_MS later.
   */
  private readonly seenRunning = new Map<string, number>();
  /** Containers of earlier boots being killed and deleted in the background, by container id. */
  private readonly retiring = new Map<string, Promise<void>>();
  /** The wake in progress per name: concurrent callers share it instead of queueing for the lock. */
  private readonly wakes = new Map<string, Promise<SandboxRecord>>();
  /** Host process of each live container (by container id), so liveness checks cost a signal 0, not a runsc call. */
  private readonly pids = new Map<string, number>();

  private hooks: SandboxHooks | undefined;

  constructor(private readonly deps: ManagerDeps) {
    this.hooks = deps.hooks;
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
    if (!record) throw notFound(name);
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
      sleep?: { warmAfterMs?: number | null; coldAfterMs?: number | null };
    },
  ): SandboxRecord {
    const record = this.get(name);
    this.deps.store.update(record.id, {
      urlSettings: patch.urlSettings ? { ...record.urlSettings, ...patch.urlSettings } : undefined,
      labels: patch.labels,
      warmAfterMs: patch.sleep?.warmAfterMs,
      coldAfterMs: patch.sleep?.coldAfterMs,
    });
    return this.get(name);
  }

  /** The sandbox's cgroup (the one path runtime, limits and metering agree on). */
  cgroupOf(record: Pick<SandboxRecord, 'containerId'>): Cgroup {
    return new Cgroup(this.cgroupPathOf(record.containerId));
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
    return this.locks.run(name, async () => {
      const record = this.deps.store.byName(name);
      if (!record || (record.status !== 'running' && record.status !== 'warm')) return false;
      const state = await this.runtimeOf(record).state(record.containerId);
      if (state === 'running' || state === 'paused') return false;
      this.recordDeath(record, type, reason, detail);
      return true;
    });
  }

  runtimeOf(record: SandboxRecord) {
    return this.deps.runtimes[record.runtime];
  }

  async create(opts: CreateOptions): Promise<SandboxRecord> {
    return this.locks.run(opts.name, async () => {
      const { store, crashPoint } = this.deps;
      const imageId = opts.from?.image ?? this.deps.images.idFor(opts.image);
      if (!(await this.deps.images.isImported(imageId))) {
        throw new ApiError('unavailable', `image '${opts.image}' is not built yet: run \`burrow image build ${opts.image}\``);
      }
      const now = new Date().toISOString();
      const record: SandboxRecord = {
        id: randomBytes(6).toString('hex'),
        name: opts.name,
        status: 'creating',
        runtime: opts.runtime,
        image: imageId,
        imageName: opts.image,
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
      };
      if (store.byName(opts.name)) {
        throw new ApiError('sandbox_exists', `a sandbox named '${opts.name}' already exists`);
      }
      await this.deps.capacity.runningSlot(opts.name, opts.waitForCapacity ?? false);
      try {
        store.insert(record); // no await since the slot was found: the slot is ours
      } catch (e) {
        if (e instanceof DuplicateNameError) {
          throw new ApiError('sandbox_exists', `a sandbox named '${opts.name}' already exists`);
        }
        throw e;
      }
      crashPoint('create:recorded');
      try {
        await opts.from?.populate(record.id);
        await this.deps.disks.create(record.id);
        crashPoint('create:subvolume');
        await this.hooks?.diskCreated(record);
        await this.boot(record);
      } catch (e) {
        await this.teardown(record).catch(() => {});
        store.delete(record.id);
        throw new ApiError('runtime_failed', `creating sandbox '${opts.name}' failed: ${(e as Error).message}`);
      }
      store.setStatus(record.id, 'running');
      const limits = `${opts.cpus} CPU, ${opts.ramMb} MB RAM, ${opts.storageGb} GB disk, ${opts.pidsLimit} processes`;
      this.deps.events.record(record, 'created', `created (${opts.runtime}, ${opts.image}; ${limits})`, {
        runtime: opts.runtime,
        image: opts.image,
        cpus: opts.cpus,
        ram_mb: opts.ramMb,
        storage_gb: opts.storageGb,
        pids_limit: opts.pidsLimit,
      });
      return this.get(opts.name);
    });
  }

  async destroy(name: string): Promise<void> {
    await this.locks.run(name, async () => {
      const record = this.get(name);
      this.deps.store.setStatus(record.id, 'destroying');
      this.deps.crashPoint('destroy:marked');
      await this.teardown(record);
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
      throw new ApiError('sandbox_busy', `sandbox '${name}' is ${record.status}; try again when it is done`);
    }
    if (record.status === 'running' && this.recentlySeenRunning(record.id)) return record;
    const shared = this.wakes.get(name);
    if (shared) return shared;
    const wake = this.locks.run(name, () => this.wakeLocked(name)).finally(() => this.wakes.delete(name));
    this.wakes.set(name, wake);
    const woken = await wake;
    this.deps.activity?.touch(name);
    return woken;
  }

  private async wakeLocked(name: string): Promise<SandboxRecord> {
    const current = this.get(name);
    if (current.status === 'destroying' || current.status === 'creating') {
      throw new ApiError('sandbox_busy', `sandbox '${name}' is ${current.status}`);
    }
    const runtime = this.runtimeOf(current);
    const from = current.status;
    // Only a sandbox meant to be up has a container worth asking about: a cold one's container
    // may still be dying in the background, and its state file can say `paused` meanwhile.
    if (from === 'warm') {
      // Frozen by us: thaw straight away (runsc resume, ~20 ms); asking its state first would
      // cost as much again. A failed resume falls through to the checks below.
      await this.deps.capacity.runningSlot(name, true);
      const started = performance.now();
      if (await runtime.resume(current.containerId).then(() => true, () => false)) return this.resumed(current, started);
    }
    if (from === 'running' || from === 'warm') {
      const state = await runtime.state(current.containerId);
      if (state === 'running') {
        if (from !== 'running') this.deps.store.setStatus(current.id, 'running');
        this.seenRunning.set(current.id, Date.now());
        return this.get(name);
      }
      if (state === 'paused') {
        const started = performance.now();
        if (await runtime.resume(current.containerId).then(() => true, () => false)) return this.resumed(current, started);
      }
      await this.markDead(current);
    }
    if (from !== 'running') await this.deps.capacity.runningSlot(name, true);
    const started = performance.now();
    try {
      await this.boot(current);
    } catch (e) {
      const reason = `starting failed: ${(e as Error).message}`;
      this.deps.store.setStatus(current.id, 'failed', { failureReason: reason });
      this.deps.events.record(current, 'failed', reason);
      throw new ApiError('runtime_failed', `sandbox '${name}' could not be started: ${reason}`);
    }
    this.deps.store.setStatus(current.id, 'running', { failureReason: null });
    this.recordWake(this.deps.store.byId(current.id) ?? current, from, started, current.failureReason);
    return this.get(name);
  }

  private resumed(record: SandboxRecord, startedAt: number): SandboxRecord {
    this.deps.store.setStatus(record.id, 'running');
    this.seenRunning.set(record.id, Date.now());
    this.recordWake(record, 'warm', startedAt);
    const woken = this.get(record.name);
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
    return this.locks.run(name, async () => {
      const current = this.get(name);
      if (current.status === 'creating' || current.status === 'destroying') {
        throw new ApiError('sandbox_busy', `sandbox '${name}' is ${current.status}`);
      }
      const asleep = current.status === 'cold' || current.status === 'failed' || (asked === 'warm' && current.status === 'warm');
      if (asleep || !stillIdle()) return current;
      const depth = asked === 'warm' && !this.deps.capacity.has('warm') ? 'cold' : asked;
      const runtime = this.runtimeOf(current);
      const container = current.containerId;
      const started = performance.now();
      const state = await runtime.state(container);
      if (state !== 'running' && state !== 'paused') {
        await this.markDead(current);
        return this.get(name);
      }
      this.seenRunning.delete(current.id);
      if (depth === 'warm') {
        if (state === 'running') await runtime.pause(container);
        this.deps.store.setStatus(current.id, 'warm');
      } else {
        this.hooks?.stopping?.(current);
        this.deps.crashPoint('sleep:cold');
        await this.retireContainer(current);
        this.deps.store.setStatus(current.id, 'cold');
      }
      const ms = Math.round(performance.now() - started);
      const what = depth === 'warm' ? 'went warm: frozen, memory kept' : 'went cold: stopped, disk kept, no memory used';
      const over = depth !== asked ? ` (the ${this.deps.capacity.limits.warm} warm sandboxes this server keeps are taken)` : '';
      this.deps.events.record(current, 'slept', `${what}${over} in ${ms} ms`, { to: depth, duration_ms: ms });
      return this.get(name);
    });
  }

  /**
   * Cheap liveness check for the idle timer: false (and the sandbox marked failed, with the
   * reason) when a running or warm sandbox's container is gone.
   */
  async checkAlive(record: SandboxRecord): Promise<boolean> {
    if (record.status !== 'running' && record.status !== 'warm') return true;
    let pid = this.pids.get(record.containerId);
    if (pid === undefined) {
      pid = await this.runtimeOf(record).hostPid(record.containerId);
      if (pid > 0) this.pids.set(record.containerId, pid);
    }
    if (pid > 0 && processExists(pid)) return true;
    return this.locks.run(record.name, async () => {
      const current = this.deps.store.byName(record.name);
      if (!current || (current.status !== 'running' && current.status !== 'warm')) return true;
      const state = await this.runtimeOf(current).state(current.containerId);
      if (state === 'running' || state === 'paused') return true;
      await this.markDead(current);
      return false;
    });
  }

  /** The container died underneath (OOM kill, runtime crash): record why; the next wake boots it. Caller holds the lock. */
  private async markDead(record: SandboxRecord): Promise<void> {
    const death = deathReason(record, await this.cgroupOf(record).memoryFacts());
    this.recordDeath(record, death.type, death.reason, death.detail);
  }

  /** Marks a dead sandbox failed with the reason and records the event. Caller holds the lock. */
  private recordDeath(record: SandboxRecord, type: 'oom_killed' | 'failed', reason: string, detail?: Record<string, unknown>): void {
    this.seenRunning.delete(record.id);
    this.pids.delete(record.containerId);
    this.hooks?.stopping?.(record);
    this.deps.store.setStatus(record.id, 'failed', { failureReason: reason });
    this.deps.events.record(record, type, reason, detail);
  }

  async exec(name: string, opts: ExecOptions): Promise<SandboxProcessHandle> {
    const record = await this.ensureRunning(name);
    this.deps.metrics.execStarted();
    const user = opts.asRoot ? { uid: 0, gid: 0 } : SANDBOX_USER;
    const env = this.environmentFor(record, opts.env, opts.envOverlay);
    if (opts.tty && !env.some((e) => e.startsWith('TERM='))) env.push('TERM=xterm-256color');
    return launch(this.runtimeOf(record), record.containerId, {
      args: opts.args,
      env,
      cwd: opts.cwd ?? (opts.asRoot ? '/root' : SANDBOX_USER.home),
      uid: user.uid,
      gid: user.gid,
      tty: opts.tty,
    });
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

  /** Signals a command by its agent token (one a previous daemon started, say). */
  async signalToken(name: string, token: string, signal: NodeJS.Signals): Promise<void> {
    const record = this.get(name);
    await this.runtimeOf(record).run(record.containerId, {
      args: [AGENT, 'signal', token, String(constants.signals[signal])],
      env: [],
      cwd: '/',
      uid: 0,
      gid: 0,
    });
  }

  /** Runs `fn` under the sandbox's lock: it never interleaves with create, destroy or wake of `name`. */
  withLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
    return this.locks.run(name, fn);
  }

  /**
   * Stops every process of the sandbox now and unmounts its disk (subvolume and namespace stay),
   * leaving the container's cleanup to the background: a killed gVisor sandbox takes 1-2 s to
   * die on the ptrace platform, and the next boot runs in a container of its own id anyway.
   * Caller holds the lock.
   */
  async retireContainer(record: SandboxRecord): Promise<void> {
    this.seenRunning.delete(record.id);
    this.pids.delete(record.containerId);
    const runtime = this.runtimeOf(record);
    const { containerId } = record;
    if (containerId) {
      await runtime.kill(containerId);
      // A removal that fails here leaves a container no row names; the reconciler deletes it.
      const removal = runtime
        .remove(containerId)
        .catch(() => {})
        .finally(() => this.retiring.delete(containerId));
      this.retiring.set(containerId, removal);
    }
    // Lazily: the dying sandbox's file server may still hold files open under the mount.
    await this.deps.disks.unmount(record.id, { lazy: true });
  }

  private recentlySeenRunning(id: string): boolean {
    const at = this.seenRunning.get(id);
    return at !== undefined && Date.now() - at < LIVENESS_TTL_MS;
  }

  /** The read-only image subvolume under the sandbox's disk. */
  imagePath(record: SandboxRecord): string {
    return this.deps.images.pathOf(record.image);
  }

  /** Boots the sandbox and marks it running. Caller holds the lock. */
  async startContainer(record: SandboxRecord): Promise<SandboxRecord> {
    await this.boot(record);
    this.deps.store.setStatus(record.id, 'running', { failureReason: null });
    return this.get(record.name);
  }

  /**
   * Network, disk mount, bundle, container: each step skips what already exists. Each boot runs
   * in a new container, whose id is recorded before it starts.
   */
  private async boot(record: SandboxRecord): Promise<void> {
    const { disks, network, images, store, crashPoint } = this.deps;
    const runtime = this.runtimeOf(record);
    const containerId = `${record.id}-${randomBytes(3).toString('hex')}`;
    const net = await network.attach(record.id);
    crashPoint('create:netns');
    const rootfs = await disks.mount(record.id, images.pathOf(record.image));
    crashPoint('create:mounted');
    if (this.deps.storageLimits) await disks.limitSize(record.id, record.storageGb * 2 ** 30);
    const mounts = { ...net.mounts, ...(await this.hooks?.bootMounts(record, images.pathOf(record.image))) };
    const bundleDir = await this.writeBundle(record, containerId, rootfs, net.netnsPath, mounts);
    crashPoint('create:bundle');
    // The container of the previous boot, stopped or dead, unless it is already being retired.
    const previous = store.byId(record.id)?.containerId;
    if (previous && !this.retiring.has(previous)) await runtime.remove(previous);
    store.setContainerId(record.id, containerId);
    await runtime.start(containerId, bundleDir);
    crashPoint('create:started');
    const booted = this.deps.store.byName(record.name) ?? record;
    this.seenRunning.set(record.id, Date.now());
    setImmediate(() => this.hooks?.booted?.(booted));
  }

  private async writeBundle(
    record: SandboxRecord,
    containerId: string,
    rootfs: string,
    netnsPath: string,
    mounts: Record<string, string>,
  ): Promise<string> {
    const dir = this.deps.disks.hostDir(record.id);
    const etc = join(dir, 'etc');
    const bundle = join(dir, 'bundle');
    await mkdir(etc, { recursive: true });
    await mkdir(bundle, { recursive: true });
    await writeFile(join(etc, 'hostname'), `${record.name}\n`);
    await writeFile(
      join(etc, 'hosts'),
      `127.0.0.1\tlocalhost\n127.0.1.1\t${record.name}\n::1\tlocalhost ip6-localhost ip6-loopback\n`,
    );
    const config = bundleConfig({
      runtime: record.runtime,
      hostname: record.name,
      rootfs,
      netnsPath,
      cgroupsPath: this.cgroupPathOf(containerId),
      cpus: record.cpus,
      ramMb: record.ramMb,
      pidsLimit: record.pidsLimit,
      files: { '/etc/hostname': join(etc, 'hostname'), '/etc/hosts': join(etc, 'hosts'), ...mounts },
    });
    await writeFile(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
    return bundle;
  }

  /**
   * Stops every process of the sandbox's running container, for a consistent snapshot of its
   * disk: through the cgroup freezer when the host has one (about 1 ms), else the runtime's pause.
   */
  async freeze(record: SandboxRecord): Promise<void> {
    const cgroup = this.cgroupOf(record);
    if (await cgroup.hasFreezer()) await cgroup.freeze();
    else await this.runtimeOf(record).pause(record.containerId);
  }

  /** Undoes `freeze`. */
  async thaw(record: SandboxRecord): Promise<void> {
    const cgroup = this.cgroupOf(record);
    if (await cgroup.hasFreezer()) await cgroup.thaw();
    else await this.runtimeOf(record).resume(record.containerId);
  }

  /**
   * On start: thaws a container that a crashed daemon left frozen for a snapshot (runsc cannot
   * even report the state of a frozen gVisor sandbox). A warm sandbox stays paused: the
   * runtime's pause does not use the freezer cgroup.
   */
  async thawAfterCrash(record: SandboxRecord): Promise<void> {
    if (record.containerId) await this.cgroupOf(record).thaw();
  }

  /** The cgroup (below each controller's root) that a container's processes are limited by. */
  cgroupPathOf(containerId: string): string {
    return `/burrow-${this.deps.instanceTag}-${containerId}`;
  }

  /** Removes containers, mount, network and subvolume. Idempotent, so a crash can repeat it. */
  async teardown(record: Pick<SandboxRecord, 'id' | 'runtime' | 'containerId'>): Promise<void> {
    this.seenRunning.delete(record.id);
    this.pids.delete(record.containerId);
    const containerId = this.deps.store.byId(record.id)?.containerId ?? record.containerId;
    if (containerId) await this.deps.runtimes[record.runtime].remove(containerId);
    const retiring = [...this.retiring].filter(([id]) => id.startsWith(`${record.id}-`));
    await Promise.all(retiring.map(([, removal]) => removal));
    await this.deps.disks.remove(record.id);
    await this.deps.network.detach(record.id);
    await this.hooks?.tornDown(record.id);
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
