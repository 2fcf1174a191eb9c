// Checkpoints of a sandbox's disk: create (consistent while the sandbox runs), list, restore,
// delete and fork, automatic checkpoints (before every restore, and on an optional timer), the
// read-only views inside the sandbox, and the repair of whatever a crash interrupted. Every
// multi-step operation records its intent in the database before it touches the disk, and runs
// under the sandbox's lock, so it never interleaves with create, destroy or wake.
import type { CheckpointRecord, CheckpointStore, RestoreIntent } from '../db/checkpoints.js';
import type { SandboxRecord, SandboxStore } from '../db/sandboxes.js';
import { DEFAULT_PATH } from '../runtime/oci-bundle.js';
import { VIEWS_INSIDE, VISIBLE_VIEWS, type CheckpointDisk, type SandboxRuntime } from '../runtime/runtime.js';
import type { Snapshots } from '../storage/snapshots.js';
import { exists } from '../util/exists.js';
import { Conflict, DomainError, SandboxBusy, RuntimeFailed } from './errors.js';
import type { EventRecorder } from './events.js';
import type { Metrics } from './metrics.js';
import type { SandboxHooks } from './sandbox-hooks.js';
import type { LockedSandbox } from './locked-sandbox.js';
import type { CreateOptions, SandboxManager } from './sandbox-manager.js';
import { StorageRoom } from './storage-room.js';

const CHECKPOINT_ID = /^(v\d{1,9}|auto-\d{1,9})$/;
const SYNC_TIMEOUT_MS = 60_000;

export interface CheckpointInfo extends CheckpointRecord {
  /** Ancestors, nearest first: the checkpoint this one was taken on, that one's, and so on. */
  history: string[];
  /** Bytes only this checkpoint holds (btrfs exclusive); null while quotas are being rescanned. */
  sizeBytes: number | null;
}

export interface CheckpointDeps {
  manager: SandboxManager;
  sandboxes: SandboxStore;
  store: CheckpointStore;
  snapshots: Snapshots;
  /** Automatic checkpoints kept per sandbox; older ones are deleted. */
  autoKeep: number;
  /** The pool's reserve and each sandbox's checkpoint budget, checked before every checkpoint. */
  room: StorageRoom;
  crashPoint: (step: string) => void;
  log: (line: string) => void;
  events: EventRecorder;
  metrics: Pick<Metrics, 'checkpointTaken' | 'restored'>;
}

/** Progress lines for the NDJSON stream (`info` events). */
export type Progress = (line: string) => void;

export type CheckpointRepairReport = {
  checkpointsRolledBack: string[];
  checkpointsDeleted: string[];
  restoresFinished: string[];
  restoresUndone: string[];
  snapshotsRemoved: string[];
};

/**
 * What SandboxManager calls at create, boot and teardown. Needs no manager, so serve.ts can
 * build it first and hand it to the manager.
 */
export function checkpointHooks(deps: Pick<CheckpointDeps, 'store' | 'snapshots' | 'crashPoint' | 'log'>): SandboxHooks {
  return {
    // The new disk is written by nothing yet, so v0 needs no freeze.
    diskCreated: async (record) => {
      const cp = deps.store.begin(record.id, { comment: '', isAuto: false });
      await deps.snapshots.take(record.id, cp.id, await deps.snapshots.groupOf(record.id));
      deps.crashPoint('checkpoint:v0');
      deps.store.complete(record.id, cp.id, { becomesSource: true });
    },
    bootMounts: async (record, imagePath): Promise<Record<string, string>> => {
      // A VM's checkpoints are disk images: the host never mounts them (see SandboxDisks.machineDisk).
      if (record.runtime === 'vm') return {};
      const dir = await deps.snapshots.mountViews(record.id, viewIds(deps.store, record.id), imagePath);
      return { [VIEWS_INSIDE]: dir };
    },
    // A VM is shown its views once it runs: its guest mounts them.
    started: async (record, runtime) => {
      if (!runtime.showCheckpoints) return;
      await runtime.showCheckpoints(record.containerId, await machineViews(deps, record.id)).catch((e: Error) => {
        deps.log(`showing the checkpoints of '${record.name}' inside failed: ${e.message}`);
      });
    },
    tornDown: (sandboxId) => deps.snapshots.removeAll(sandboxId),
  };
}

/** The newest checkpoints a sandbox sees read-only, newest first. */
function viewIds(store: CheckpointStore, sandboxId: string): string[] {
  return store
    .forSandbox(sandboxId)
    .filter((c) => c.status === 'ready' && !c.isAuto)
    .slice(0, VISIBLE_VIEWS)
    .map((c) => c.id);
}

/** The views of a VM: the disks of its newest checkpoints (v0, taken before the first boot made a disk, has none). */
async function machineViews(deps: Pick<CheckpointDeps, 'store' | 'snapshots'>, sandboxId: string): Promise<CheckpointDisk[]> {
  const views = viewIds(deps.store, sandboxId).map((id) => ({ id, disk: deps.snapshots.machineDisk(sandboxId, id) }));
  const present = await Promise.all(views.map((v) => exists(v.disk)));
  return views.filter((_, i) => present[i]);
}

export class Checkpoints {
  constructor(private readonly deps: CheckpointDeps) {}

  static isValidId(id: string): boolean {
    return CHECKPOINT_ID.test(id);
  }

  async list(name: string, opts: { includeAuto?: boolean; history?: string } = {}): Promise<CheckpointInfo[]> {
    const record = this.deps.manager.get(name);
    const all = this.deps.store.forSandbox(record.id).filter((c) => c.status === 'ready');
    const sizes = await this.deps.snapshots.sizes(record.id);
    const infos = all.map((c) => this.info(c, all, sizes));
    return infos.filter(
      (c) =>
        (opts.includeAuto || !c.isAuto) &&
        (!opts.history || c.id === opts.history || c.history.includes(opts.history)),
    );
  }

  async get(name: string, id: string): Promise<CheckpointInfo> {
    const record = this.deps.manager.get(name);
    const checkpoint = this.ready(record, id);
    const all = this.deps.store.forSandbox(record.id).filter((c) => c.status === 'ready');
    return this.info(checkpoint, all, await this.deps.snapshots.sizes(record.id));
  }

  /**
   * Refuses early (before a stream starts) what would fail anyway: a missing or busy sandbox or
   * checkpoint, a pool below its reserve, a checkpoint budget that no pruning can make room in.
   * `id` is the checkpoint a restore goes back to; `memory`, a checkpoint that would keep memory.
   */
  async precheck(name: string, id?: string, opts: { memory?: boolean } = {}): Promise<void> {
    const record = this.deps.manager.get(name);
    assertNotBusy(record);
    if (opts.memory) await this.deps.manager.withLock(name, async (sandbox) => assertMemoryCanBeKept(sandbox));
    if (id !== undefined) this.ready(record, id);
    const what = id === undefined ? `a checkpoint of '${name}'` : restoring(name, id);
    await this.deps.room.assertPoolRoom(what);
    if (this.prunable(record, id).length > 0) return;
    const room = await this.deps.room.checkpointRoom(record);
    if (!room.fits) throw StorageRoom.budgetExceeded(record, room, what);
  }

  /** `memory`: the running processes too (vm sandboxes), so that a restore or fork resumes them. */
  async create(name: string, opts: { comment?: string; memory?: boolean } = {}, progress: Progress = () => {}): Promise<CheckpointRecord> {
    assertNotBusy(this.deps.manager.get(name));
    return this.deps.manager.withLock(name, async (sandbox) => {
      const record = sandbox.record;
      assertNotBusy(record);
      if (opts.memory) assertMemoryCanBeKept(sandbox);
      await this.makeRoom(record, `a checkpoint of '${name}'`, progress);
      const { checkpoint, live } = await this.take(sandbox, { comment: opts.comment ?? '', isAuto: false, memory: opts.memory ?? false }, progress);
      if (live) await this.refreshViews(sandbox, true);
      return checkpoint;
    });
  }

  /**
   * An automatic checkpoint now, for something that needs one consistent point of a disk that
   * keeps changing (an export): the sandbox keeps running and keeps standing on its checkpoint.
   */
  async createAutomatic(name: string, comment: string): Promise<CheckpointRecord> {
    assertNotBusy(this.deps.manager.get(name));
    return this.deps.manager.withLock(name, async (sandbox) => {
      const record = sandbox.record;
      assertNotBusy(record);
      await this.makeRoom(record, `an automatic checkpoint of '${name}'`, () => {});
      return (await this.take(sandbox, { comment, isAuto: true, memory: false }, () => {})).checkpoint;
    });
  }

  /**
   * Puts the disk back as it was at checkpoint `id`. The current disk is kept as an automatic
   * checkpoint first (a rename, not a copy), so the restore itself can be undone.
   */
  async restore(name: string, id: string, progress: Progress = () => {}): Promise<{ autoId: string }> {
    assertNotBusy(this.deps.manager.get(name));
    return this.deps.manager.withLock(name, async (sandbox) => {
      const { store, snapshots, crashPoint } = this.deps;
      const record = sandbox.record;
      assertNotBusy(record);
      const target = this.ready(record, id);
      await this.makeRoom(record, restoring(name, id), progress, id);
      const t0 = performance.now();
      const intent = store.beginRestore(record.id, id);
      crashPoint('checkpoint:restore:recorded');
      progress(`stopping sandbox '${name}' (running sessions end)`);
      await sandbox.retire();
      crashPoint('checkpoint:restore:stopped');
      const t1 = performance.now();
      await snapshots.moveLiveAside(record.id, intent.autoId);
      crashPoint('checkpoint:restore:moved-aside');
      await snapshots.makeReadonly(record.id, intent.autoId);
      crashPoint('checkpoint:restore:readonly');
      await snapshots.restoreLive(record.id, id);
      crashPoint('checkpoint:restore:swapped');
      store.finishRestore(intent);
      crashPoint('checkpoint:restore:recorded-done');
      const t2 = performance.now();
      progress(
        `disk swapped to ${id} in ${ms(t2 - t1)} (stopping took ${ms(t1 - t0)}); the state before is kept as ${intent.autoId}`,
      );
      if (target.hasMemory) progress(`resuming the processes ${id} holds`);
      try {
        await sandbox.boot();
        sandbox.move('running', { failureReason: null });
      } catch (e) {
        // The disk is restored either way; the sandbox is marked failed, and starts on next use.
        const reason = `starting after restoring ${id} failed: ${(e as Error).message}`;
        sandbox.move('failed', { failureReason: reason });
        throw new RuntimeFailed(`the disk of '${name}' is restored to ${id}, but ${reason}`);
      }
      progress(`sandbox '${name}' runs again (boot took ${ms(performance.now() - t2)})`);
      const seconds = (performance.now() - t0) / 1000;
      this.deps.metrics.restored(seconds);
      this.deps.events.record(record, 'restored', `restored to ${id} in ${ms(seconds * 1000)}; the state before is kept as ${intent.autoId}`, {
        checkpoint: id,
        kept_as: intent.autoId,
        duration_ms: Math.round(seconds * 1000),
      });
      await this.prune(record);
      return { autoId: intent.autoId };
    });
  }

  async delete(name: string, id: string): Promise<void> {
    await this.deps.manager.withLock(name, async (sandbox) => {
      const record = sandbox.record;
      this.ready(record, id);
      if (this.deps.store.sourceOf(record.id) === id) {
        throw new DomainError(
          'checkpoint_in_use',
          `${id} is the checkpoint sandbox '${name}' stands on (its disk was last taken as or restored from ${id}); ` +
            'create or restore another checkpoint first, or destroy the sandbox',
        );
      }
      await this.remove(record, id);
      await this.refreshViews(sandbox);
    });
  }

  /**
   * A new sandbox whose disk starts as checkpoint `id` of `name`: a writable snapshot (O(1)),
   * with its own id, network namespace and container, and the same image, limits and environment.
   */
  async fork(name: string, id: string, newName: string): Promise<SandboxRecord> {
    const { manager, snapshots, crashPoint } = this.deps;
    assertNotBusy(manager.get(name));
    // The source's lock keeps the checkpoint from being deleted while it is copied.
    return manager.withLock(name, async (sandbox) => {
      const source = sandbox.record;
      assertNotBusy(source);
      this.ready(source, id);
      const opts: CreateOptions = {
        name: newName,
        runtime: source.runtime,
        image: source.imageName ?? undefined,
        cpus: source.cpus,
        ramMb: source.ramMb,
        storageGb: source.storageGb,
        pidsLimit: source.pidsLimit,
        environment: source.environment,
        labels: source.labels,
        urlSettings: source.urlSettings,
        from: {
          image: source.image,
          populate: async (newId) => {
            await snapshots.forkInto(source.id, id, newId);
            crashPoint('checkpoint:fork:snapshot');
          },
        },
      };
      const forked = await manager.create(opts);
      this.deps.events.record(forked, 'forked', `forked from '${name}' at ${id}`, { source: name, source_id: source.id, checkpoint: id });
      this.deps.events.record(source, 'forked', `'${newName}' was forked from ${id}`, { fork: newName, fork_id: forked.id, checkpoint: id });
      return forked;
    });
  }

  /** Takes an automatic checkpoint of every running sandbox every `intervalMs`; returns a stop function. */
  startAutoTimer(intervalMs: number): () => void {
    let running = false;
    const timer = setInterval(() => {
      if (running) return;
      running = true;
      void this.autoCheckpointAll().finally(() => {
        running = false;
      });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  async autoCheckpointAll(): Promise<void> {
    for (const listed of this.deps.manager.list()) {
      if (listed.status !== 'running') continue;
      try {
        await this.deps.manager.withLock(listed.name, async (sandbox) => {
          const record = sandbox.find();
          if (!record || record.status !== 'running') return;
          await this.makeRoom(record, `an automatic checkpoint of '${record.name}'`, () => {});
          await this.take(sandbox, { comment: 'automatic', isAuto: true, memory: false }, () => {});
          await this.prune(record);
        });
      } catch (e) {
        this.deps.log(`automatic checkpoint of '${listed.name}' failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * The steps of a checkpoint. When the container runs: `sync` inside (gVisor and a VM keep
   * written file data in their own kernel until then, where no host-side flush can reach it), freeze,
   * snapshot, thaw. The freeze makes the snapshot one instant of every file; the thaw is in a
   * finally so that no failure leaves the sandbox frozen. runc sandboxes write through the host
   * kernel, whose dirty pages the snapshot itself flushes, so they skip the `sync`. A VM's
   * filesystem is frozen instead of synced (its journal applied, so that the checkpoint's disk
   * mounts read-only as it is: the views), and thawed last.
   *
   * With `memory`, the machine's memory is written beside its disk before the freeze (the
   * machine paused meanwhile), so the snapshot takes both at one instant; it is removed from the
   * live disk's folder after, and the machine runs on.
   */
  private async take(
    sandbox: LockedSandbox,
    opts: { comment: string; isAuto: boolean; memory: boolean },
    progress: Progress,
  ): Promise<{ checkpoint: CheckpointRecord; live: boolean }> {
    const { store, snapshots, crashPoint } = this.deps;
    const record = sandbox.record;
    const runtime = sandbox.runtime;
    const checkpoint = store.begin(record.id, { comment: opts.comment, isAuto: opts.isAuto, hasMemory: opts.memory });
    const started = performance.now();
    crashPoint('checkpoint:create:recorded');
    const group = await snapshots.groupOf(record.id);
    let live = record.status === 'running' || record.status === 'warm';
    try {
      // The record says whether a container runs; `runsc state` (30 ms) is asked only when in doubt.
      if (!live) live = isLive(await runtime.state(record.containerId));
      if (live) {
        const wasPaused = record.status === 'warm';
        if (wasPaused) await runtime.resume(record.containerId);
        const t0 = performance.now();
        try {
          try {
            if (runtime.freezeFilesystem) await runtime.freezeFilesystem(record.containerId);
            else if (runtime.ownKernel) await syncInside(runtime, record.containerId);
          } catch (e) {
            if (isLive(await runtime.state(record.containerId))) throw e;
            live = false; // the container is gone (the record was stale): nothing writes the disk
          }
          crashPoint('checkpoint:create:synced');
          if (live) {
            if (runtime.ownKernel) progress(`flushed the sandbox's file data to disk in ${ms(performance.now() - t0)}`);
            const frozenAt = performance.now();
            try {
              if (opts.memory) {
                await runtime.saveMemory!(record.containerId);
                crashPoint('checkpoint:create:memory');
                progress(`saved the sandbox's memory in ${ms(performance.now() - frozenAt)}`);
              }
              await sandbox.freeze();
              try {
                crashPoint('checkpoint:create:paused');
                await snapshots.take(record.id, checkpoint.id, group);
                crashPoint('checkpoint:create:snapshot');
              } finally {
                await sandbox.thaw();
              }
            } finally {
              if (opts.memory) {
                await runtime.discardMemory!(record.containerId);
                await runtime.resume(record.containerId);
              }
            }
            progress(`sandbox was frozen for ${ms(performance.now() - frozenAt)} while its ${opts.memory ? 'memory and disk were' : 'disk was'} snapshotted`);
          }
        } finally {
          // Also after a failure: a filesystem left frozen would hold the sandbox's every write.
          if (live) await runtime.thawFilesystem?.(record.containerId);
        }
        if (live && wasPaused) await runtime.pause(record.containerId);
      }
      if (!live && opts.memory) throw new Error('it stopped meanwhile: there are no running processes to keep');
      if (!live) {
        // No container: nothing writes to the disk, so it is consistent as it is.
        await snapshots.take(record.id, checkpoint.id, group);
        crashPoint('checkpoint:create:snapshot');
        progress('sandbox is not running; snapshotted its disk as it is');
      }
    } catch (e) {
      await snapshots.remove(record.id, checkpoint.id).catch(() => {});
      store.delete(record.id, checkpoint.id, { releaseId: true });
      throw new RuntimeFailed(`checkpoint of sandbox '${record.name}' failed: ${(e as Error).message}`);
    }
    // Timer checkpoints are safety copies: the sandbox keeps standing on its last explicit one.
    store.complete(record.id, checkpoint.id, { becomesSource: !opts.isAuto });
    crashPoint('checkpoint:create:done');
    const seconds = (performance.now() - started) / 1000;
    this.deps.metrics.checkpointTaken(seconds);
    const kind = opts.isAuto ? 'automatic checkpoint' : 'checkpoint';
    this.deps.events.record(record, 'checkpointed', `${kind} ${checkpoint.id} taken in ${ms(seconds * 1000)}${live ? '' : ' (not running)'}`, {
      checkpoint: checkpoint.id,
      auto: opts.isAuto,
      duration_ms: Math.round(seconds * 1000),
      ...(opts.comment ? { comment: opts.comment } : {}),
    });
    return { checkpoint: { ...checkpoint, status: 'ready' }, live };
  }

  /**
   * Makes room for one more checkpoint, or refuses (`pool_full`, `quota_exceeded`) with nothing
   * made. Past the sandbox's budget, its oldest automatic checkpoints go first, one at a time
   * until the next fits (see `prunable`); the user's own are never deleted here.
   */
  private async makeRoom(record: SandboxRecord, what: string, progress: Progress, restoring?: string): Promise<void> {
    const { room } = this.deps;
    await room.assertPoolRoom(what);
    let standing = await room.checkpointRoom(record);
    for (const old of this.prunable(record, restoring)) {
      if (standing.fits) break;
      await this.remove(record, old.id);
      progress(`deleted automatic checkpoint ${old.id} to stay within the checkpoint budget of '${record.name}'`);
      this.deps.log(`deleted automatic checkpoint ${old.id} of '${record.name}' to stay within its checkpoint budget`);
      standing = await room.checkpointRoom(record);
    }
    if (!standing.fits) throw StorageRoom.budgetExceeded(record, standing, what);
  }

  /**
   * Automatic checkpoints that may go to make room, oldest first: never the one the sandbox
   * stands on, nor the one a restore goes back to.
   */
  private prunable(record: SandboxRecord, restoring?: string): CheckpointRecord[] {
    const source = this.deps.store.sourceOf(record.id);
    return this.deps.store
      .forSandbox(record.id)
      .filter((c) => c.isAuto && c.status === 'ready' && c.id !== source && c.id !== restoring)
      .reverse();
  }

  /** Deletes automatic checkpoints beyond the newest `autoKeep` (never the one the sandbox stands on). */
  private async prune(record: SandboxRecord): Promise<void> {
    const source = this.deps.store.sourceOf(record.id);
    const autos = this.deps.store.forSandbox(record.id).filter((c) => c.isAuto && c.status === 'ready');
    for (const old of autos.slice(this.deps.autoKeep)) {
      if (old.id !== source) await this.remove(record, old.id);
    }
  }

  private async remove(record: SandboxRecord, id: string): Promise<void> {
    this.deps.store.setStatus(record.id, id, 'deleting');
    this.deps.crashPoint('checkpoint:delete:marked');
    await this.deps.snapshots.remove(record.id, id);
    this.deps.crashPoint('checkpoint:delete:removed');
    this.deps.store.delete(record.id, id);
  }

  /**
   * Brings the views of a running sandbox up to date. New mounts reach a running container
   * because the views directory is a shared mount (see Snapshots.mountViews); a VM's guest
   * mounts its own; a stopped sandbox gets them at its next boot.
   */
  private async refreshViews(sandbox: LockedSandbox, knownRunning = false): Promise<void> {
    const record = sandbox.record;
    if (!knownRunning && (await sandbox.runtime.state(record.containerId)) !== 'running') return;
    try {
      if (sandbox.runtime.showCheckpoints) await sandbox.runtime.showCheckpoints(record.containerId, await machineViews(this.deps, record.id));
      else await this.deps.snapshots.mountViews(record.id, viewIds(this.deps.store, record.id), sandbox.imagePath);
    } catch (e) {
      this.deps.log(`refreshing the checkpoint views of '${record.name}' failed: ${(e as Error).message}`);
    }
  }

  private ready(record: SandboxRecord, id: string): CheckpointRecord {
    const checkpoint = Checkpoints.isValidId(id) ? this.deps.store.get(record.id, id) : undefined;
    if (!checkpoint || checkpoint.status !== 'ready') {
      throw new DomainError(
        'checkpoint_not_found',
        `sandbox '${record.name}' has no checkpoint '${id.slice(0, 64)}' (see \`burrow checkpoint list ${record.name} --all\`)`,
      );
    }
    return checkpoint;
  }

  private info(c: CheckpointRecord, all: CheckpointRecord[], sizes: Map<string, number>): CheckpointInfo {
    const byId = new Map(all.map((x) => [x.id, x]));
    const history: string[] = [];
    for (let at = c.sourceId; at && !history.includes(at); at = byId.get(at)?.sourceId ?? null) history.push(at);
    return { ...c, history, sizeBytes: sizes.get(c.id) ?? null };
  }

  /**
   * After a crash: every in-flight checkpoint operation is finished or undone, so that each
   * sandbox is exactly on its old state or its new one, every listed checkpoint exists on disk
   * and every snapshot on disk is listed. Runs after the sandbox reconciler (rows of sandboxes
   * that were rolled back are gone by then, with their checkpoints).
   */
  async repair(): Promise<CheckpointRepairReport> {
    const { store, snapshots, sandboxes, manager } = this.deps;
    const report: CheckpointRepairReport = {
      checkpointsRolledBack: [],
      checkpointsDeleted: [],
      restoresFinished: [],
      restoresUndone: [],
      snapshotsRemoved: [],
    };
    const byId = new Map(sandboxes.all().map((r) => [r.id, r]));
    const label = (sandboxId: string, id: string) => `${byId.get(sandboxId)?.name ?? sandboxId} ${id}`;

    const restoring = new Set<string>();
    for (const intent of store.restores()) {
      restoring.add(`${intent.sandboxId}/${intent.autoId}`);
      if (await this.repairRestore(intent)) report.restoresFinished.push(label(intent.sandboxId, intent.target));
      else report.restoresUndone.push(label(intent.sandboxId, intent.target));
    }

    for (const c of store.all()) {
      if (restoring.has(`${c.sandboxId}/${c.id}`)) continue;
      if (c.status === 'creating') {
        await snapshots.remove(c.sandboxId, c.id);
        store.delete(c.sandboxId, c.id, { releaseId: true });
        report.checkpointsRolledBack.push(label(c.sandboxId, c.id));
        // A create interrupted while the sandbox was frozen must not leave it frozen, nor its
        // memory beside its disk, where its next start would resume it.
        const record = byId.get(c.sandboxId);
        if (record && c.hasMemory) {
          await manager.withLock(record.name, async (sandbox) => {
            await sandbox.runtime.discardMemory?.(record.containerId);
          });
        }
        if (record?.status === 'running') {
          await manager.withLock(record.name, async (sandbox) => {
            const runtime = sandbox.runtime;
            if ((await runtime.state(record.containerId)) === 'paused') await runtime.resume(record.containerId);
          });
        }
      } else if (c.status === 'deleting' || !(await snapshots.exists(c.sandboxId, c.id))) {
        await snapshots.remove(c.sandboxId, c.id);
        store.delete(c.sandboxId, c.id);
        if (store.sourceOf(c.sandboxId) === c.id) store.setSource(c.sandboxId, null);
        report.checkpointsDeleted.push(label(c.sandboxId, c.id));
      }
    }

    // Sandboxes keep running while the daemon is down: bring their views up to date.
    for (const record of byId.values()) await manager.withLock(record.name, (sandbox) => this.refreshViews(sandbox));

    await snapshots.dropEmptyGroups();

    const listed = new Set(store.all().map((c) => `${c.sandboxId}/${c.id}`));
    for (const sandboxId of await snapshots.sandboxIds()) {
      if (!byId.has(sandboxId)) {
        await snapshots.removeAll(sandboxId);
        report.snapshotsRemoved.push(`${sandboxId}/*`);
        continue;
      }
      for (const id of await snapshots.idsOf(sandboxId)) {
        if (listed.has(`${sandboxId}/${id}`)) continue;
        await snapshots.remove(sandboxId, id);
        report.snapshotsRemoved.push(label(sandboxId, id));
      }
    }
    return report;
  }

  /** True when the restore was finished, false when it was undone. */
  private async repairRestore(intent: RestoreIntent): Promise<boolean> {
    const { store, snapshots } = this.deps;
    if (!(await snapshots.exists(intent.sandboxId, intent.autoId))) {
      // The live disk was never moved: it still is the state before the restore.
      store.abandonRestore(intent);
      return false;
    }
    // The old disk is already kept aside: finish the swap (each step skips what is done).
    await snapshots.makeReadonly(intent.sandboxId, intent.autoId);
    await snapshots.restoreLive(intent.sandboxId, intent.target);
    store.finishRestore(intent);
    return true;
  }
}

function isLive(state: string): boolean {
  return state === 'running' || state === 'paused';
}

/** A memory checkpoint needs a runtime that keeps memory (vm) and a sandbox that runs (or is warm). */
function assertMemoryCanBeKept(sandbox: LockedSandbox): void {
  const record = sandbox.record;
  if (!sandbox.runtime.saveMemory) {
    throw new DomainError('invalid_request', `sandbox '${record.name}' runs on ${record.runtime}, which cannot keep its memory in a checkpoint; only vm sandboxes can`);
  }
  if (record.status !== 'running' && record.status !== 'warm') {
    throw new Conflict(`sandbox '${record.name}' is ${record.status}: it has no running processes to keep; wake it first, or checkpoint its disk alone`);
  }
}

function assertNotBusy(record: SandboxRecord): void {
  if (record.status === 'creating' || record.status === 'destroying') {
    throw new SandboxBusy(record);
  }
}

/** `sync` as root inside the container, to completion. */
function syncInside(runtime: SandboxRuntime, containerId: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = runtime.exec(containerId, { args: ['sync'], env: [`PATH=${DEFAULT_PATH}`], cwd: '/', uid: 0, gid: 0 });
    const stderr: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), SYNC_TIMEOUT_MS);
    child.stdin.end();
    child.stdout.resume();
    child.stderr.on('data', (b: Buffer) => stderr.push(b));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`sync inside the sandbox ${signal ? `was killed by ${signal}` : `exited ${code}`}: ${Buffer.concat(stderr).toString().trim()}`));
    });
  });
}

/** A restore, as the room checks name it: it keeps the disk as an automatic checkpoint. */
function restoring(name: string, id: string): string {
  return `restoring ${id} of '${name}' (which keeps the disk as a checkpoint)`;
}

function ms(value: number): string {
  return `${Math.round(value)} ms`;
}
