// Checkpoints on disk: read-only btrfs snapshots of a sandbox's subvolume at
// pool/checkpoints/<sandboxId>/<checkpointId>, the subvolume swaps of restore and fork, each
// snapshot's size from btrfs quota groups, and the read-only views (an overlay of a snapshot over
// the image) that a sandbox sees under /.burrow/checkpoints. Every operation is idempotent or
// checks what is already there, so the reconciler can repeat it after a crash.
import { mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../util/run.js';
import {
  deleteSubvolume,
  destroyQgroup,
  enableQuotas,
  isSubvolume,
  qgroupUsage,
  rescanIfInconsistent,
  setReadonly,
  snapshot,
  waitForDeletedSubvolumes,
  type QgroupUsage,
} from './btrfs.js';
import { isMountPoint } from './mounts.js';
import type { PoolLayout } from './pool.js';
import { MACHINE_DISK, type SandboxDisks } from './sandbox-disks.js';
import { checkpointRows, spaceBySandbox, type SandboxSpace } from './sandbox-space.js';

export class Snapshots {
  constructor(
    private readonly pool: PoolLayout,
    private readonly disks: SandboxDisks,
  ) {}

  /**
   * Turns btrfs quota groups on for the pool's filesystem (a no-op when they are on): they are
   * what tells how many bytes each snapshot alone holds. Numbers left inconsistent (by a tool
   * outside burrow, or an older burrow) are rescanned; true when a rescan was started.
   */
  async enableQuotas(): Promise<boolean> {
    await enableQuotas(this.pool.root);
    return rescanIfInconsistent(this.pool.root);
  }

  dir(sandboxId: string): string {
    return join(this.pool.checkpoints, sandboxId);
  }

  path(sandboxId: string, checkpointId: string): string {
    return join(this.dir(sandboxId), checkpointId);
  }

  /** A `vm` sandbox's disk as the checkpoint holds it (see SandboxDisks.machineDisk). */
  machineDisk(sandboxId: string, checkpointId: string): string {
    return join(this.path(sandboxId, checkpointId), MACHINE_DISK);
  }

  exists(sandboxId: string, checkpointId: string): Promise<boolean> {
    return isSubvolume(this.path(sandboxId, checkpointId));
  }

  /**
   * A read-only snapshot of the sandbox's live subvolume, in the sandbox's quota `group` (from
   * `groupOf`, asked before the caller freezes the sandbox). The caller makes the disk consistent.
   */
  async take(sandboxId: string, checkpointId: string, group: string | undefined): Promise<void> {
    await mkdir(this.dir(sandboxId), { recursive: true });
    await snapshot(this.disks.subvolume(sandboxId), this.path(sandboxId, checkpointId), { readonly: true, group });
  }

  groupOf(sandboxId: string): Promise<string | undefined> {
    return this.disks.groupOf(sandboxId);
  }

  async remove(sandboxId: string, checkpointId: string): Promise<void> {
    await detach(this.viewPath(sandboxId, checkpointId));
    await deleteSubvolume(this.path(sandboxId, checkpointId));
  }

  /** Deletes every snapshot of a sandbox and its directory. */
  async removeAll(sandboxId: string): Promise<void> {
    for (const id of await this.idsOf(sandboxId)) await this.remove(sandboxId, id);
    await rm(this.dir(sandboxId), { recursive: true, force: true });
  }

  /** Snapshot ids on disk for one sandbox. */
  async idsOf(sandboxId: string): Promise<string[]> {
    const entries = await readdir(this.dir(sandboxId)).catch(() => [] as string[]);
    const ids: string[] = [];
    for (const id of entries) if (await isSubvolume(this.path(sandboxId, id))) ids.push(id);
    return ids;
  }

  /** Sandbox ids that have a checkpoint directory in the pool. */
  async sandboxIds(): Promise<string[]> {
    return readdir(this.pool.checkpoints).catch(() => [] as string[]);
  }

  /** Whether the sandbox's live subvolume exists (a restore moves it away for a moment). */
  liveExists(sandboxId: string): Promise<boolean> {
    return isSubvolume(this.disks.subvolume(sandboxId));
  }

  /**
   * Restore, first half: the live subvolume (unmounted) becomes the read-only checkpoint
   * `checkpointId`. A rename: O(1), and nothing is copied.
   */
  async moveLiveAside(sandboxId: string, checkpointId: string): Promise<void> {
    const dest = this.path(sandboxId, checkpointId);
    await mkdir(this.dir(sandboxId), { recursive: true });
    if (!(await isSubvolume(dest))) await rename(this.disks.subvolume(sandboxId), dest);
  }

  async makeReadonly(sandboxId: string, checkpointId: string): Promise<void> {
    await setReadonly(this.path(sandboxId, checkpointId), true);
  }

  /** Restore, second half: a writable snapshot of the checkpoint becomes the live subvolume. */
  async restoreLive(sandboxId: string, checkpointId: string): Promise<void> {
    const live = this.disks.subvolume(sandboxId);
    if (await isSubvolume(live)) return;
    await snapshot(this.path(sandboxId, checkpointId), live, { readonly: false, group: await this.groupOfCheckpoint(sandboxId, checkpointId) });
  }

  /**
   * Fork: a writable snapshot of a checkpoint becomes another sandbox's live subvolume. It joins
   * the source's quota group: a snapshot of a group's member that joins no group, or another
   * one, leaves btrfs's numbers wrong for the whole pool until a rescan. The group then holds
   * two sandboxes, and each is measured checkpoint by checkpoint (see spaceBySandbox).
   */
  async forkInto(sandboxId: string, checkpointId: string, newSandboxId: string): Promise<void> {
    const live = this.disks.subvolume(newSandboxId);
    if (await isSubvolume(live)) return;
    const group = await this.groupOfCheckpoint(sandboxId, checkpointId);
    await snapshot(this.path(sandboxId, checkpointId), live, { readonly: false, group });
  }

  /** The quota group a checkpoint is a member of, which every snapshot of it must join. */
  private async groupOfCheckpoint(sandboxId: string, checkpointId: string): Promise<string | undefined> {
    const groups = await qgroupUsage(this.pool.root).catch(() => [] as QgroupUsage[]);
    const row = checkpointRows(groups, sandboxId).get(checkpointId);
    return row?.parents.length === 1 ? row.parents[0] : undefined;
  }

  /**
   * Bytes each of the sandbox's snapshots alone holds (btrfs "exclusive"), by checkpoint id.
   * `--sync` commits the running transaction first: quota numbers are only brought up to date
   * at commit, and that costs milliseconds where a rescan costs a walk of the whole pool.
   */
  async sizes(sandboxId: string): Promise<Map<string, number>> {
    let groups: QgroupUsage[];
    try {
      groups = await qgroupUsage(this.pool.root, { sync: true });
    } catch {
      return new Map(); // quotas off or being rescanned: sizes are unknown, not an error
    }
    return new Map([...checkpointRows(groups, sandboxId)].map(([id, row]) => [id, row.exclusive]));
  }

  /** What the sandbox holds (see spaceBySandbox); null when quotas are off or being rescanned. */
  async space(sandboxId: string): Promise<SandboxSpace | null> {
    try {
      return spaceBySandbox(await qgroupUsage(this.pool.root, { sync: true })).get(sandboxId) ?? null;
    } catch {
      return null;
    }
  }

  /** Waits until deleted snapshots have given their space back, so that `space` counts them out. */
  async settle(): Promise<void> {
    await waitForDeletedSubvolumes(this.pool.root);
  }

  /**
   * Deletes the quota groups of destroyed sandboxes. btrfs refuses while deleted members are
   * still being cleaned, so this runs at start, when they long are.
   */
  async dropEmptyGroups(): Promise<string[]> {
    const groups = await qgroupUsage(this.pool.root).catch(() => [] as QgroupUsage[]);
    const withMembers = new Set(groups.flatMap((g) => g.parents));
    const empty = groups.filter((g) => g.id.startsWith('1/') && !withMembers.has(g.id) && g.referenced === 0);
    const dropped: string[] = [];
    for (const g of empty) {
      if (await destroyQgroup(g.id, this.pool.root).then(() => true, () => false)) dropped.push(g.id);
    }
    return dropped;
  }

  // Read-only views.

  /** Host directory bound (read-only) at /.burrow/checkpoints inside the sandbox. */
  viewsDir(sandboxId: string): string {
    return join(this.disks.hostDir(sandboxId), 'checkpoints');
  }

  private viewPath(sandboxId: string, checkpointId: string): string {
    return join(this.viewsDir(sandboxId), checkpointId);
  }

  /**
   * Mounts a read-only overlay per checkpoint in `ids` (the snapshot's upper layer over the
   * image: the files as the sandbox saw them) and removes views of any other checkpoint. An
   * overlay with only lower layers cannot be written, and it is mounted `ro` besides.
   */
  async mountViews(sandboxId: string, ids: string[], imagePath: string): Promise<string> {
    const dir = this.viewsDir(sandboxId);
    await mkdir(dir, { recursive: true });
    if (!(await isMountPoint(dir))) {
      // A shared mount of its own: views mounted here later propagate into the copy a running
      // sandbox was given at boot (gVisor's gofer and runc both see them then).
      await run('mount', ['--bind', dir, dir]);
      await run('mount', ['--make-private', dir]);
      await run('mount', ['--make-shared', dir]);
    }
    for (const entry of await readdir(dir)) {
      if (ids.includes(entry)) continue;
      await detach(join(dir, entry));
      await rmdir(join(dir, entry)).catch(() => {});
    }
    for (const id of ids) {
      const target = this.viewPath(sandboxId, id);
      await mkdir(target, { recursive: true });
      if (await isMountPoint(target)) continue;
      const lower = `${join(this.path(sandboxId, id), 'upper')}:${imagePath}`;
      await run('mount', ['-t', 'overlay', 'overlay', '-o', `ro,lowerdir=${lower}`, target]);
    }
    return dir;
  }

}

/**
 * Unmounts lazily: a running sandbox's copy of the mount may be in use, and lazy unmounting
 * takes it out of every namespace it propagated to without waiting for it to be idle.
 */
async function detach(path: string): Promise<void> {
  while (await isMountPoint(path)) await run('umount', ['-l', path]);
}
