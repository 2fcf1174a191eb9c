// A sandbox whose lock is held: the one way to change what runs for it (boot, retire, freeze,
// thaw, teardown) and to record its status. Only SandboxManager.withLock makes one, and it stops
// working when that call's callback returns. So a function that takes a LockedSandbox runs under
// the sandbox's lock (the type says so, not a comment), and one that keeps it past the lock
// throws instead of interleaving with a create, wake, sleep or destroy.
import type { SandboxRecord, SandboxStatus, SandboxStore } from '../db/sandboxes.js';
import type { Cgroup } from '../runtime/cgroup.js';
import type { SandboxRuntime } from '../runtime/runtime.js';
import { SandboxNotFound } from './errors.js';
import type { SandboxContainers } from './sandbox-containers.js';
import type { SandboxStatuses } from './sandbox-status.js';

export interface LockedSandboxDeps {
  store: Pick<SandboxStore, 'byName'>;
  containers: SandboxContainers;
  statuses: SandboxStatuses;
}

export class LockedSandbox {
  private held = true;

  constructor(
    readonly name: string,
    private readonly deps: LockedSandboxDeps,
  ) {}

  /** The sandbox as recorded now. Throws SandboxNotFound once it is gone. */
  get record(): SandboxRecord {
    const record = this.find();
    if (!record) throw new SandboxNotFound(this.name);
    return record;
  }

  /** The sandbox as recorded now, if it still exists. */
  find(): SandboxRecord | undefined {
    this.assertHeld();
    return this.deps.store.byName(this.name);
  }

  /** Its runtime, to ask the state of its container or run a command in it. */
  get runtime(): SandboxRuntime {
    return this.deps.containers.runtimeOf(this.record);
  }

  /** The cgroup of its current container. */
  get cgroup(): Cgroup {
    return this.deps.containers.cgroupOf(this.record);
  }

  /** The read-only image subvolume under its disk. */
  get imagePath(): string {
    return this.deps.containers.imagePath(this.record);
  }

  /** Boots a new container on its disk (its status is the caller's to record). */
  async boot(): Promise<void> {
    return this.deps.containers.boot(this.record);
  }

  /** Stops every process now and unmounts its disk; the container is removed in the background. */
  async retire(): Promise<void> {
    return this.deps.containers.retire(this.record);
  }

  /** Stops every process of its running container, for a consistent snapshot of its disk. */
  async freeze(): Promise<void> {
    return this.deps.containers.freeze(this.record);
  }

  /** Undoes `freeze`. */
  async thaw(): Promise<void> {
    return this.deps.containers.thaw(this.record);
  }

  /** On start: thaws a container a crashed daemon left frozen for a snapshot. */
  async thawAfterCrash(): Promise<void> {
    return this.deps.containers.thawAfterCrash(this.record);
  }

  /** Removes containers, mount, network and subvolume (the row is the caller's to delete). */
  async teardown(): Promise<void> {
    return this.deps.containers.teardown(this.record);
  }

  /** Records its new status, checked against the lifecycle table (core/sandbox-status.ts). */
  move(to: SandboxStatus, extra: { failureReason?: string | null } = {}): void {
    this.deps.statuses.move(this.record.id, to, extra);
  }

  /** Notes that its container was just seen running. */
  sawRunning(): void {
    this.deps.containers.sawRunning(this.record.id);
  }

  /** Forgets what was known of its container: it stopped, died, or is about to. */
  forget(): void {
    this.deps.containers.forget(this.record);
  }

  /** Called by the lock's holder as it lets go: every later use throws. */
  release(): void {
    this.held = false;
  }

  private assertHeld(): void {
    if (!this.held) throw new Error(`sandbox '${this.name}' was used after its lock was released`);
  }
}
