// A sandbox's disk: its own btrfs subvolume (overlay upper + work dirs) stacked over the
// read-only image subvolume. Everything it writes lands in the subvolume, which is what
// checkpoints snapshot and what destroy deletes; the image underneath is never written.
import { constants } from 'node:fs';
import { lstat, mkdir, open, readdir, rename, rm, stat, truncate, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../util/run.js';
import { HOST_PYTHON, packageFile } from '../util/package-files.js';
import { DiskImages, diskLayout, reflink } from './disk-images.js';
import { createGroupFor, createSubvolume, deleteSubvolume, isSubvolume, limitReferenced, qgroupUsage, subvolumeId } from './btrfs.js';
import { isMountPoint, mountsUnder, unmount } from './mounts.js';
import { ID_RANGE_SIZE, shiftOwnership, storedIdBase } from './ownership.js';
import type { PoolLayout } from './pool.js';
import { liveRow, spaceBySandbox } from './sandbox-space.js';

const IDMAPPED_MOUNT = packageFile('host-tools/idmapped-mount.py');
/** The name of a `vm` sandbox's disk in its subvolume. */
export const MACHINE_DISK = 'disk.ext4';

export class SandboxDisks {
  /** The images' disks that `vm` sandboxes' disks are cloned from. */
  private readonly machineImages: DiskImages;

  /**
   * @param pool where subvolumes live
   * @param stateDir per-sandbox host state (mount point, bundle): BURROW_HOME/sandboxes
   */
  constructor(
    private readonly pool: PoolLayout,
    private readonly stateDir: string,
  ) {
    this.machineImages = new DiskImages(diskLayout(pool.root));
  }

  subvolume(id: string): string {
    return join(this.pool.sandboxes, id);
  }

  /** Host-side directory of one sandbox: rootfs mount point, OCI bundle, generated files. */
  hostDir(id: string): string {
    return join(this.stateDir, id);
  }

  rootfs(id: string): string {
    return join(this.hostDir(id), 'rootfs');
  }

  /**
   * A new, empty subvolume in a quota group of its own (see `groupOf`). A fork's disk is already
   * there: a snapshot of another sandbox's checkpoint, in that sandbox's group (btrfs cannot put
   * it in a group of its own without a rescan of the whole pool; see Snapshots.forkInto).
   */
  async create(id: string): Promise<void> {
    const volume = this.subvolume(id);
    if (!(await isSubvolume(volume))) {
      await createSubvolume(volume);
      // Only accounting rides on the group: without quotas there is none, and that is no failure.
      await createGroupFor(await subvolumeId(volume), this.pool.root).catch(() => {});
    }
    await mkdir(join(volume, 'upper'), { recursive: true });
    await mkdir(join(volume, 'work'), { recursive: true });
  }

  /**
   * Caps what the sandbox's own subvolume may hold (btrfs quota group). Checkpoints are other
   * subvolumes, so they do not count against it. Writes past the cap fail with EDQUOT
   * ("Disk quota exceeded") inside the sandbox. A restore or fork makes a new subvolume, so
   * every boot sets the cap again.
   */
  async limitSize(id: string, bytes: number): Promise<void> {
    await limitReferenced(this.subvolume(id), bytes);
  }

  /**
   * Bytes on disk per sandbox id: its live subvolume (everything it references) plus what only
   * its checkpoints hold, so extents shared between them count once. Commits the running
   * transaction first (quota numbers only move at commits, which btrfs makes every 30 s anyway),
   * so what was written since is counted.
   */
  async usage(): Promise<Map<string, number>> {
    const bytes = new Map<string, number>();
    for (const [id, space] of spaceBySandbox(await qgroupUsage(this.pool.root, { sync: true }))) {
      bytes.set(id, space.liveBytes + space.checkpointBytes);
    }
    return bytes;
  }

  /**
   * Bytes each sandbox's live subvolume references (what storage_gb caps), by sandbox id, as of
   * btrfs's last commit (at most 30 s ago): cheap enough to read every few seconds.
   */
  async liveUsage(): Promise<Map<string, number>> {
    const bytes = new Map<string, number>();
    for (const group of await qgroupUsage(this.pool.root)) {
      const live = /(?:^|\/)sandboxes\/([^/]+)$/.exec(group.path);
      if (live) bytes.set(live[1]!, group.referenced);
    }
    return bytes;
  }

  /**
   * A `vm` sandbox's disk: an ext4 image file in its subvolume, so that checkpoints, restore and
   * fork take it as they take a container's files. The host never mounts it or reads inside it:
   * it is the sandbox's, written by the sandbox's kernel.
   */
  machineDisk(id: string): string {
    return join(this.subvolume(id), MACHINE_DISK);
  }

  /**
   * The sandbox's disk, first a reflink clone of its image's disk (made from the image's files
   * the first time) if it has none yet, and grown (sparse) to `bytes` if it is smaller: the
   * guest grows its filesystem to match at boot. A disk is never shrunk, which would cut off the
   * filesystem's end.
   */
  async ensureMachineDisk(id: string, image: { id: string; path: string }, bytes: number): Promise<string> {
    const disk = this.machineDisk(id);
    const size = await stat(disk).then(
      (s) => s.size,
      () => null,
    );
    if (size === null) await reflink(await this.machineImages.ensureImage(image.id, image.path), disk);
    if ((size ?? (await stat(disk)).size) < bytes) {
      // Growing adds no data: the disk keeps the time of its last write, by which memory saved
      // with it is known to be its own (runtime/vm/machine-memory.ts).
      const { atime, mtime } = await stat(disk);
      await truncate(disk, bytes);
      await utimes(disk, atime, mtime);
    }
    return disk;
  }

  /**
   * Mounts the sandbox's root: the image, seen with its ids moved to `idBase` (0: as it is), under
   * the sandbox's own files, which are moved into that range first if they are in another.
   * Returns the root and the image as the sandbox sees it.
   */
  async mount(id: string, imagePath: string, idBase: number): Promise<{ rootfs: string; lower: string }> {
    const rootfs = this.rootfs(id);
    const lower = idBase === 0 ? imagePath : join(this.hostDir(id), 'lower');
    await mkdir(rootfs, { recursive: true });
    if (await isMountPoint(rootfs)) return { rootfs, lower };
    const volume = this.subvolume(id);
    const upper = join(volume, 'upper');
    const stored = await storedIdBase(volume);
    if (stored !== idBase) await shiftOwnership(volume, stored, idBase);
    if (idBase !== 0 && !(await isMountPoint(lower))) {
      await mkdir(lower, { recursive: true });
      await run(HOST_PYTHON, [IDMAPPED_MOUNT, imagePath, lower, String(idBase), String(ID_RANGE_SIZE)]);
    }
    const options = `lowerdir=${lower},upperdir=${upper},workdir=${join(volume, 'work')}`;
    await run('mount', ['-t', 'overlay', 'overlay', '-o', options, rootfs]);
    return { rootfs, lower };
  }

  /**
   * The host path of the sandbox's own `/tmp` on its disk, made sure to be a real directory:
   * the runtime binds it at `/tmp` (gVisor would otherwise mount a tmpfs there, lost at every
   * stop and missing from checkpoints). The runtime resolves a bind source on the host, so a
   * sandbox that put a symlink (or anything but a directory) at `/tmp` must not steer it: such
   * an entry is renamed aside (rename neither follows nor loses it) and a fresh directory made.
   * Nothing of the sandbox runs while it boots, so nothing can swap it back in between.
   */
  async tmpDir(id: string, idBase: number): Promise<string> {
    const tmp = join(this.rootfs(id), 'tmp');
    const entry = await lstat(tmp).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw e;
    });
    if (entry && !entry.isDirectory()) await rename(tmp, `${tmp}.displaced-${Date.now()}`);
    if (!entry || !entry.isDirectory()) {
      await mkdir(tmp);
      // mkdir's mode passes through the umask; the sticky, world-writable mode is set on the
      // directory itself (opened without following links), never on whatever a path names.
      const dir = await open(tmp, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
      try {
        await dir.chmod(0o1777);
        await dir.chown(idBase, idBase); // root's, as root sees it inside
      } finally {
        await dir.close();
      }
    }
    return tmp;
  }

  async unmount(id: string, opts: { lazy?: boolean } = {}): Promise<void> {
    for (const m of await mountsUnder(this.hostDir(id))) await unmount(m, opts);
  }

  /**
   * The level-1 quota group of the sandbox's disk and checkpoints, when it has one: its
   * exclusive bytes are what the sandbox alone holds in the pool, extents shared between its
   * checkpoints counted once. Snapshots join it as they are taken, and a restore's new disk
   * (a snapshot of a member) too, so btrfs keeps its numbers exact.
   */
  async groupOf(id: string): Promise<string | undefined> {
    const live = liveRow(await qgroupUsage(this.pool.root).catch(() => []), id);
    return live?.parents.length === 1 ? live.parents[0] : undefined;
  }

  /** Unmounts and deletes everything of this sandbox. Safe to repeat; missing parts are skipped. */
  async remove(id: string): Promise<void> {
    await this.unmount(id);
    await deleteSubvolume(this.subvolume(id));
    // A writer that was already under way (the disk gauge) may add a file while it is removed.
    await rm(this.hostDir(id), { recursive: true, force: true, maxRetries: 5 });
  }

  /** Ids of every sandbox that has a subvolume or a host directory. */
  async listIds(): Promise<string[]> {
    const volumes = await readdir(this.pool.sandboxes).catch(() => [] as string[]);
    const dirs = await readdir(this.stateDir).catch(() => [] as string[]);
    return [...new Set([...volumes, ...dirs])];
  }
}
