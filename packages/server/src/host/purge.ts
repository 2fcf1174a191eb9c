// Removes everything one burrow instance made on the host: containers, mounts, namespaces,
// cgroups, subvolumes, the pool and the state directory. For uninstalling and for test teardown;
// the shared image cache stays.
import { readdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { homePaths, RUNTIMES, type BurrowConfig } from '../config.js';
import { HostFirewall } from '../network/firewall.js';
import { NetnsManager } from '../network/netns.js';
import { VethPairs, vethPrefix } from '../network/veth.js';
import { createRuntimes } from '../runtime/runtimes.js';
import { deleteSubvolume, isSubvolume } from '../storage/btrfs.js';
import { mountsUnder, unmount } from '../storage/mounts.js';
import { poolLayout, releasePool } from '../storage/pool.js';

const CGROUP_ROOT = '/sys/fs/cgroup';

export async function purge(config: BurrowConfig): Promise<void> {
  // A daemon killed while it froze a sandbox for a snapshot leaves it frozen, and runsc cannot
  // even report the state of a frozen gVisor sandbox, let alone delete it.
  await thawCgroups(`burrow-${config.instanceTag}-`);
  const startsNothing = () => {
    throw new Error('purge starts no container');
  };
  const runtimes = await createRuntimes({ ...config, runscPlatform: config.runscPlatform === 'auto' ? 'ptrace' : config.runscPlatform }, startsNothing);
  for (const kind of RUNTIMES) {
    for (const { id } of await runtimes[kind].list().catch(() => [])) await runtimes[kind].remove(id);
  }
  const netns = new NetnsManager(`burrow-${config.instanceTag}-`);
  for (const id of await netns.list()) await netns.remove(id);
  const veths = new VethPairs(vethPrefix(config.instanceTag));
  for (const slot of await veths.list()) await veths.remove(slot);
  await new HostFirewall(`burrow-${config.instanceTag}`, vethPrefix(config.instanceTag), '0.0.0.0/32').removeTable();

  const pool = poolLayout(config);
  // Sandbox overlays first (they stack on the pool), then the pool itself.
  for (const m of await mountsUnder(homePaths(config).sandboxes)) await unmount(m);
  // Checkpoints: pool/checkpoints/<sandboxId>/<checkpointId>, read-only snapshots.
  for (const sandboxDir of await readdir(pool.checkpoints).catch(() => [] as string[])) {
    const dir = join(pool.checkpoints, sandboxDir);
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, entry);
      if (await isSubvolume(path)) await deleteSubvolume(path);
    }
    await rmdir(dir).catch(() => {});
  }
  for (const dir of [pool.sandboxes, pool.images]) {
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      const path = join(dir, entry);
      if (await isSubvolume(path)) await deleteSubvolume(path);
    }
  }
  await releasePool(config);
  await removeCgroups(`burrow-${config.instanceTag}-`);
  for (const m of await mountsUnder(config.home)) await unmount(m);
  await rm(config.home, { recursive: true, force: true });
}

async function thawCgroups(prefix: string): Promise<void> {
  const freezer = join(CGROUP_ROOT, 'freezer');
  for (const entry of await readdir(freezer).catch(() => [] as string[])) {
    if (entry.startsWith(prefix)) await writeFile(join(freezer, entry, 'freezer.state'), 'THAWED').catch(() => {});
  }
}

/** Runtimes remove a container's cgroup on delete; this catches any a crash left behind. */
async function removeCgroups(prefix: string): Promise<void> {
  for (const controller of await readdir(CGROUP_ROOT).catch(() => [] as string[])) {
    const dir = join(CGROUP_ROOT, controller);
    for (const entry of await readdir(dir).catch(() => [] as string[])) {
      if (entry.startsWith(prefix)) await rmdir(join(dir, entry)).catch(() => {});
    }
  }
}
