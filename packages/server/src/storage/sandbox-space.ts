// What each sandbox holds in the pool, read off one `btrfs qgroup show`: its disk, and what only
// its checkpoints hold. Paths there are relative to the filesystem's top, which is the pool root
// only for a loop pool, so they are matched by their tail.
import type { QgroupUsage } from './btrfs.js';

export interface SandboxSpace {
  /** Bytes the sandbox's disk references (what `storage_gb` caps). */
  liveBytes: number;
  /** Bytes only its checkpoints hold: what deleting every one of them would give back. */
  checkpointBytes: number;
}

const LIVE_PATH = /(?:^|\/)sandboxes\/([^/]+)$/;
const CHECKPOINT_PATH = /(?:^|\/)checkpoints\/([^/]+)\/([^/]+)$/;
/** The path `btrfs qgroup show` gives a deleted subvolume not yet cleaned up. */
const STALE = '<stale>';

/** The quota group row of sandbox `id`'s disk. */
export function liveRow(groups: QgroupUsage[], id: string): QgroupUsage | undefined {
  return groups.find((g) => LIVE_PATH.exec(g.path)?.[1] === id);
}

/** The rows of a sandbox's checkpoints, by checkpoint id. */
export function checkpointRows(groups: QgroupUsage[], sandboxId: string): Map<string, QgroupUsage> {
  const rows = new Map<string, QgroupUsage>();
  for (const g of groups) {
    const m = CHECKPOINT_PATH.exec(g.path);
    if (m?.[1] === sandboxId) rows.set(m[2]!, g);
  }
  return rows;
}

/**
 * Every sandbox's space. When the sandbox's level-1 quota group (see SandboxDisks.groupOf) holds
 * only its own disk and checkpoints, what its checkpoints hold counts extents that several
 * checkpoints share, but the disk not, once. Otherwise (a fork and its source share a group;
 * a sandbox made before groups has none) it is the sum of each checkpoint's own extents, which
 * misses those. Either way, extents the disk shares outside the sandbox (a fork's source, the
 * image when overlayfs copies a file up by reflink) are missed, so the figure is at most that
 * much low.
 */
export function spaceBySandbox(groups: QgroupUsage[]): Map<string, SandboxSpace> {
  const byId = new Map(groups.map((g) => [g.id, g]));
  const spaces = new Map<string, SandboxSpace>();
  for (const live of groups) {
    const sandboxId = LIVE_PATH.exec(live.path)?.[1];
    if (!sandboxId) continue;
    const checkpoints = checkpointRows(groups, sandboxId);
    let eachAlone = 0;
    for (const row of checkpoints.values()) eachAlone += row.exclusive;
    const group = live.parents.length === 1 ? byId.get(live.parents[0]!) : undefined;
    // Members being deleted (`<stale>`) are still the sandbox's: only it deletes its own.
    const ownsGroup =
      group !== undefined &&
      groups.every((g) => !g.parents.includes(group.id) || g === live || g.path === STALE || [...checkpoints.values()].includes(g));
    const together = ownsGroup ? group.exclusive - live.referenced : 0;
    spaces.set(sandboxId, { liveBytes: live.referenced, checkpointBytes: Math.max(eachAlone, together) });
  }
  return spaces;
}
