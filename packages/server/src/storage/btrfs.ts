// Thin wrappers over btrfs-progs. Subvolumes are the unit of everything burrow stores:
// images (read-only), sandbox disks, and (later) checkpoints as read-only snapshots.
import { stat } from 'node:fs/promises';
import { CommandError, run } from '../util/run.js';

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

/**
 * @param opts.group a level-1 quota group the snapshot joins. btrfs keeps the numbers exact only
 *   when `source` is a member of that same group and of no other; otherwise it marks quotas
 *   inconsistent until a rescan of the whole filesystem.
 */
export async function snapshot(source: string, dest: string, opts: { readonly: boolean; group?: string }): Promise<void> {
  const inherit = opts.group ? ['-i', opts.group] : [];
  await run('btrfs', ['subvolume', 'snapshot', ...(opts.readonly ? ['-r'] : []), ...inherit, source, dest]);
}

/** Waits until the space of every deleted subvolume of the filesystem is given back. */
export async function waitForDeletedSubvolumes(path: string): Promise<void> {
  await run('btrfs', ['subvolume', 'sync', path], { timeoutMs: 120_000 });
}

/** The subvolume's id, which is also the id of its own quota group (`0/<id>`). */
export async function subvolumeId(path: string): Promise<number> {
  const { stdout } = await run('btrfs', ['inspect-internal', 'rootid', path]);
  return Number(stdout.trim());
}

/**
 * A level-1 quota group `1/<n>` that subvolume `n`'s own quota group (`0/<n>`) joins. Meant for
 * a subvolume that holds nothing yet: btrfs then adds it to the group's numbers exactly,
 * without a rescan.
 */
export async function createGroupFor(n: number, fsPath: string): Promise<string> {
  const group = `1/${n}`;
  // btrfs may give a new subvolume the id of one deleted before a remount, whose group is
  // then still there (empty): it is taken over.
  await run('btrfs', ['qgroup', 'create', group, fsPath]).catch((e: Error) => {
    if (!/exists/i.test(e.message)) throw e;
  });
  await run('btrfs', ['qgroup', 'assign', '--no-rescan', `0/${n}`, group, fsPath]);
  return group;
}

export async function destroyQgroup(group: string, fsPath: string): Promise<void> {
  await run('btrfs', ['qgroup', 'destroy', group, fsPath]);
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

/**
 * Starts a rescan when btrfs says its quota numbers are inconsistent (a snapshot or assignment
 * it could not account for); they are exact again once the rescan, which walks the whole
 * filesystem in the kernel, is done. True when one was started.
 */
export async function rescanIfInconsistent(path: string): Promise<boolean> {
  const { stderr } = await run('btrfs', ['qgroup', 'show', path], { timeoutMs: 30_000 });
  if (!/inconsistent/i.test(stderr)) return false;
  try {
    await run('btrfs', ['quota', 'rescan', path]);
  } catch (e) {
    // Turning quotas on starts a rescan of its own, and the numbers read inconsistent until it
    // ends: the one running is the one wanted.
    if (!(e instanceof CommandError && /in progress/i.test(e.message))) throw e;
  }
  return true;
}

/** Caps the bytes a subvolume references (its whole content, shared extents included). */
export async function limitReferenced(path: string, bytes: number | 'none'): Promise<void> {
  await run('btrfs', ['qgroup', 'limit', String(bytes), path]);
}

export interface QgroupUsage {
  /** `0/<subvolume id>` for a subvolume, `1/<n>` for a group of them. */
  id: string;
  /** Path relative to the filesystem's top (a group has none: `<N member qgroups>`). */
  path: string;
  referenced: number;
  /** Bytes that no subvolume outside this one (or outside this group) references. */
  exclusive: number;
  /** The level-1 groups this one is a member of. */
  parents: string[];
}

/**
 * Every subvolume's quota group. Without `sync`, numbers are as of the last transaction commit
 * (at most the commit interval, 30 s by default, behind); `sync` commits first (milliseconds;
 * a rescan would walk the whole pool). Parsed from the text table:
 * btrfs-progs 6.2 aborts in `--format json` once any quota group has a limit.
 */
export async function qgroupUsage(path: string, opts: { sync?: boolean } = {}): Promise<QgroupUsage[]> {
  const args = ['qgroup', 'show', '--raw', '-p', ...(opts.sync ? ['--sync'] : []), path];
  const { stdout } = await run('btrfs', args, { timeoutMs: 30_000 });
  return parseQgroupShow(stdout);
}

/** The table of `btrfs qgroup show --raw -p`. */
export function parseQgroupShow(stdout: string): QgroupUsage[] {
  const groups: QgroupUsage[] = [];
  for (const line of stdout.split('\n')) {
    // Qgroupid  Referenced  Exclusive  Parent (`-` or `1/5,1/7`)  Path
    const m = /^(\d+\/\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(\S.*?)\s*$/.exec(line);
    if (!m) continue;
    const parents = m[4] === '-' ? [] : m[4]!.split(',');
    groups.push({ id: m[1]!, referenced: Number(m[2]), exclusive: Number(m[3]), parents, path: m[5]! });
  }
  return groups;
}
