// Thin wrappers over btrfs-progs. Subvolumes are the unit of everything burrow stores:
// images (read-only), sandbox disks, and (later) checkpoints as read-only snapshots.
import { stat } from 'node:fs/promises';
import { run } from '../util/run.js';

/** btrfs gives every subvolume root inode number 256. */
const SUBVOLUME_ROOT_INODE = 256;

export async function isSubvolume(path: string): Promise<boolean> {
  try {
    const s = await stat(path);
    return s.isDirectory() && s.ino === SUBVOLUME_ROOT_INODE;
  } catch {
    return false;
  }
}

export async function createSubvolume(path: string): Promise<void> {
  await run('btrfs', ['subvolume', 'create', path]);
}

export async function deleteSubvolume(path: string): Promise<void> {
  if (!(await isSubvolume(path))) return;
  await run('btrfs', ['subvolume', 'delete', path]);
}

export async function snapshot(source: string, dest: string, opts: { readonly: boolean }): Promise<void> {
  await run('btrfs', ['subvolume', 'snapshot', ...(opts.readonly ? ['-r'] : []), source, dest]);
}

export async function setReadonly(path: string, readonly: boolean): Promise<void> {
  await run('btrfs', ['property', 'set', '-ts', path, 'ro', String(readonly)]);
}

export async function isBtrfs(path: string): Promise<boolean> {
  try {
    const { stdout } = await run('stat', ['-f', '-c', '%T', path]);
    return stdout.trim() === 'btrfs';
  } catch {
    return false;
  }
}
