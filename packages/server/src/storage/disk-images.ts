// Disks of `vm` sandboxes: an image's root filesystem made once into a sparse ext4 image file,
// and each sandbox's disk a reflink clone of it (FICLONE: shares every extent, copies nothing).
// Both live on the btrfs pool, because only there can a clone share extents with its source.
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from '../util/run.js';
import { exists } from '../util/exists.js';

export interface DiskLayout {
  /** <pool>/vm-disks/images/<imageId>.ext4 */
  images: string;
  /** <pool>/vm-disks/sandboxes/<sandboxId>.ext4 */
  sandboxes: string;
  /** <pool>/vm-disks/checkpoints/<sandboxId>/<checkpointId>.ext4 */
  checkpoints: string;
}

export function diskLayout(poolRoot: string): DiskLayout {
  const root = join(poolRoot, 'vm-disks');
  return { images: join(root, 'images'), sandboxes: join(root, 'sandboxes'), checkpoints: join(root, 'checkpoints') };
}

const MiB = 2 ** 20;

/**
 * Room an image's disk leaves beyond its files (ext4's own metadata, and writes before the
 * sandbox's disk is grown to its storage_gb), and the rounding of its size.
 */
const HEADROOM_BYTES = 512 * MiB;
const SIZE_STEP_BYTES = 256 * MiB;

/** The size of an image's disk for a root filesystem of `rootfsBytes`. */
export function imageDiskBytes(rootfsBytes: number): number {
  return Math.ceil((rootfsBytes * 1.25 + HEADROOM_BYTES) / SIZE_STEP_BYTES) * SIZE_STEP_BYTES;
}

export class DiskImages {
  /** Image disks being built, so that sandboxes booting together build each one once. */
  private readonly building = new Map<string, Promise<string>>();

  constructor(private readonly layout: DiskLayout) {}

  imagePath(imageId: string): string {
    return join(this.layout.images, `${imageId}.ext4`);
  }

  sandboxPath(sandboxId: string): string {
    return join(this.layout.sandboxes, `${sandboxId}.ext4`);
  }

  /**
   * The image's ext4 file, made from its root filesystem (the image's read-only subvolume) if it
   * does not exist yet. Built under a temporary name and renamed: a crash leaves only a
   * `.partial-` file that the next build replaces.
   */
  ensureImage(imageId: string, rootfs: string, opts: { sizeBytes?: number; log?: (line: string) => void } = {}): Promise<string> {
    let built = this.building.get(imageId);
    if (!built) {
      built = this.build(imageId, rootfs, opts).finally(() => this.building.delete(imageId));
      this.building.set(imageId, built);
    }
    return built;
  }

  private async build(imageId: string, rootfs: string, { sizeBytes, log }: { sizeBytes?: number; log?: (line: string) => void }): Promise<string> {
    const path = this.imagePath(imageId);
    if (await exists(path)) return path;
    log?.(`making the image's disk for vm sandboxes (${imageId.slice(0, 12)}.ext4)`);
    sizeBytes ??= imageDiskBytes(Number((await run('du', ['-sb', rootfs])).stdout.split('\t')[0]));
    await mkdir(this.layout.images, { recursive: true });
    // What a build cut short by a crash left, under any daemon's pid: this one replaces it.
    for (const entry of await readdir(this.layout.images)) {
      if (entry.startsWith(`${imageId}.ext4.partial-`)) await rm(join(this.layout.images, entry), { force: true });
    }
    const partial = `${path}.partial-${process.pid}`;
    try {
      await run('truncate', ['-s', String(sizeBytes), partial]);
      await run('mkfs.ext4', [
        '-q',
        '-F',
        '-L',
        'burrow',
        // No reserved blocks: the disk holds one sandbox, not a system that must keep running full.
        '-m',
        '0',
        // root_owner: the root directory keeps root's ownership (mkfs would give it the caller's).
        // nodiscard: the sparse file has nothing to discard yet.
        '-E',
        'root_owner=0:0,nodiscard',
        '-d',
        rootfs,
        partial,
      ]);
      await rename(partial, path);
    } finally {
      await rm(partial, { force: true });
    }
    return path;
  }

  checkpointPath(sandboxId: string, checkpointId: string): string {
    return join(this.layout.checkpoints, sandboxId, `${checkpointId}.ext4`);
  }

  /**
   * A sandbox's disk as a reflink clone of `source` (an image file or a checkpoint); restore and
   * fork are this too. The old disk is replaced in one rename.
   */
  async clone(source: string, sandboxId: string): Promise<string> {
    return reflink(source, this.sandboxPath(sandboxId));
  }

  /**
   * A checkpoint: a reflink clone of the sandbox's disk, as flat in time and space as a btrfs
   * snapshot. Consistent if the guest is paused (or stopped) and has synced its filesystem.
   */
  async checkpoint(sandboxId: string, checkpointId: string): Promise<string> {
    return reflink(this.sandboxPath(sandboxId), this.checkpointPath(sandboxId, checkpointId));
  }

  /** The sandbox's disk and its checkpoints. */
  async removeSandboxDisk(sandboxId: string): Promise<void> {
    await rm(this.sandboxPath(sandboxId), { force: true });
    await rm(join(this.layout.checkpoints, sandboxId), { recursive: true, force: true });
  }

  async removeImage(imageId: string): Promise<void> {
    await rm(this.imagePath(imageId), { force: true });
  }
}

/** `dest` made a reflink clone of `source` (sharing every extent), replacing it in one rename. */
export async function reflink(source: string, dest: string): Promise<string> {
  await mkdir(dirname(dest), { recursive: true });
  const partial = `${dest}.partial-${process.pid}`;
  try {
    // --reflink=always fails rather than falling back to a full copy.
    await run('cp', ['--reflink=always', source, partial]);
    await rename(partial, dest);
  } finally {
    await rm(partial, { force: true });
  }
  return dest;
}
