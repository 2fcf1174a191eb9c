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

/** Turns quota groups on for the filesystem at `path` (a no-op when they are on). */
export async function enableQuotas(path: string): Promise<void> {
  await run('btrfs', ['quota', 'enable', path]);
}

/** Caps the bytes a subvolume references (its whole content, shared extents included). */
export async function limitReferenced(path: string, bytes: number | 'none'): Promise<void> {
  await run('btrfs', ['qgroup', 'limit', String(bytes), path]);
}

export interface QgroupUsage {
  /** Path relative to the filesystem's top. */
  path: string;
  referenced: number;
  exclusive: number;
}

/**
 * Every subvolume's quota group. Without `sync`, numbers are as of the last transaction commit
 * (at most the commit interval, 30 s by default, behind); `sync` commits first (milliseconds;
 * a rescan would walk the whole pool). Parsed from the text table:
 * btrfs-progs 6.2 aborts in `--format json` once any quota group has a limit.
 */
export async function qgroupUsage(path: string, opts: { sync?: boolean } = {}): Promise<QgroupUsage[]> {
  const args = ['qgroup', 'show', '--raw', ...(opts.sync ? ['--sync'] : []), path];
  const { stdout } = await run('btrfs', args, { timeoutMs: 30_000 });
  const groups: QgroupUsage[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^\d+\/\d+\s+(\d+)\s+(\d+)\s+(\S.*?)\s*$/.exec(line);
    if (m) groups.push({ referenced: Number(m[1]), exclusive: Number(m[2]), path: m[3]! });
  }
  return groups;
}
