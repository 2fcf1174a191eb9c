// A sandbox's disk: its own btrfs subvolume (overlay upper + work dirs) stacked over the
// read-only image subvolume. Everything it writes lands in the subvolume, which is what
// checkpoints snapshot and what destroy deletes; the image underneath is never written.
import { mkdir, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from '../util/run.js';
import { createSubvolume, deleteSubvolume, isSubvolume, limitReferenced, qgroupUsage } from './btrfs.js';
import { isMountPoint, mountsUnder, unmount } from './mounts.js';
import { ID_RANGE_SIZE, shiftOwnership, storedIdBase } from './ownership.js';
import type { PoolLayout } from './pool.js';

const IDMAPPED_MOUNT = fileURLToPath(new URL('../../host-tools/idmapped-mount.py', import.meta.url));

export class SandboxDisks {
  /**
   * @param pool where subvolumes live
   * @param stateDir per-sandbox host state (mount point, bundle): BURROW_HOME/sandboxes
   */
  constructor(
    private readonly pool: PoolLayout,
    private readonly stateDir: string,
  ) {}

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

  async create(id: string): Promise<void> {
    const volume = this.subvolume(id);
    if (!(await isSubvolume(volume))) await createSubvolume(volume);
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
   * each of its checkpoints holds, so extents shared between them count once. Commits the
   * running transaction first (quota numbers only move at commits, which btrfs makes every
   * 30 s anyway), so what was written since is counted.
   */
  async usage(): Promise<Map<string, number>> {
    const bytes = new Map<string, number>();
    const add = (id: string, n: number) => bytes.set(id, (bytes.get(id) ?? 0) + n);
    for (const group of await qgroupUsage(this.pool.root, { sync: true })) {
      // Paths are relative to the filesystem's top, which is the pool root only for a loop pool.
      const live = /(?:^|\/)sandboxes\/([^/]+)$/.exec(group.path);
      if (live) add(live[1]!, group.referenced);
      const checkpoint = /(?:^|\/)checkpoints\/([^/]+)\/[^/]+$/.exec(group.path);
      if (checkpoint) add(checkpoint[1]!, group.exclusive);
    }
    return bytes;
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
      await run('python3', [IDMAPPED_MOUNT, imagePath, lower, String(idBase), String(ID_RANGE_SIZE)]);
    }
    const options = `lowerdir=${lower},upperdir=${upper},workdir=${join(volume, 'work')}`;
    await run('mount', ['-t', 'overlay', 'overlay', '-o', options, rootfs]);
    return { rootfs, lower };
  }

  async unmount(id: string, opts: { lazy?: boolean } = {}): Promise<void> {
    for (const m of await mountsUnder(this.hostDir(id))) await unmount(m, opts);
  }

  /** Unmounts and deletes everything of this sandbox. Safe to repeat; missing parts are skipped. */
  async remove(id: string): Promise<void> {
    await this.unmount(id);
    await deleteSubvolume(this.subvolume(id));
    await rm(this.hostDir(id), { recursive: true, force: true });
  }

  /** Ids of every sandbox that has a subvolume or a host directory. */
  async listIds(): Promise<string[]> {
    const volumes = await readdir(this.pool.sandboxes).catch(() => [] as string[]);
    const dirs = await readdir(this.stateDir).catch(() => [] as string[]);
    return [...new Set([...volumes, ...dirs])];
  }
}
