// The storage pool: one btrfs filesystem holding images and sandbox disks. By default a sparse
// loop file inside BURROW_HOME; or any btrfs directory the operator names with BURROW_POOL.
import { mkdir, open, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import type { BurrowConfig } from '../config.js';
import { run } from '../util/run.js';
import { isBtrfs } from './btrfs.js';
import { isMountPoint, unmount } from './mounts.js';
import { exists } from '../util/exists.js';

export interface PoolLayout {
  root: string;
  images: string;
  sandboxes: string;
  /** Read-only snapshots of sandbox disks: checkpoints/<sandboxId>/<checkpointId>. */
  checkpoints: string;
}

export function poolLayout(config: BurrowConfig): PoolLayout {
  const root = config.pool.mountpoint;
  return { root, images: join(root, 'images'), sandboxes: join(root, 'sandboxes'), checkpoints: join(root, 'checkpoints') };
}

/** Creates (first time) and mounts the pool. Idempotent. */
export async function ensurePool(config: BurrowConfig, log: (line: string) => void = () => {}): Promise<PoolLayout> {
  const pool = config.pool;
  if (pool.kind === 'loop') {
    await mkdir(pool.mountpoint, { recursive: true });
    if (!(await isMountPoint(pool.mountpoint))) {
      if (!(await exists(pool.file))) {
        log(`creating a ${Math.round(pool.sizeBytes / 2 ** 30)} GiB sparse btrfs pool at ${pool.file}`);
        const handle = await open(pool.file, 'wx', 0o600);
        await handle.truncate(pool.sizeBytes);
        await handle.close();
        await run('mkfs.btrfs', ['-q', '-L', `burrow-${config.instanceTag}`, pool.file]);
      }
      await run('mount', ['-o', 'loop,noatime', pool.file, pool.mountpoint]);
    }
  } else if (!(await isBtrfs(pool.mountpoint))) {
    throw new Error(`BURROW_POOL=${pool.mountpoint} is not a directory on a btrfs filesystem`);
  }
  const layout = poolLayout(config);
  await mkdir(layout.images, { recursive: true });
  await mkdir(layout.sandboxes, { recursive: true });
  await mkdir(layout.checkpoints, { recursive: true });
  return layout;
}

/** The pool filesystem's size and the bytes still free for new data, as `df` shows them. */
export async function poolSpace(layout: PoolLayout): Promise<{ sizeBytes: number; freeBytes: number }> {
  const s = await statfs(layout.root);
  return { sizeBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
}

/** Unmounts a loop pool (the loop device goes with it); a directory pool is left alone. */
export async function releasePool(config: BurrowConfig): Promise<void> {
  if (config.pool.kind === 'loop') await unmount(config.pool.mountpoint);
}
