// Which user ids a sandbox's files carry on the host. A runc sandbox runs in a user namespace of
// its own: ids 0-65535 inside are BASE-BASE+65535 on the host, and the files it writes into its
// subvolume carry the host ids. The owner of the subvolume's top directory, which the sandbox
// never sees (it sees the `upper` directory below it), records which range its files are in, so a
// disk that moves to another range (a fork, a restore of a checkpoint taken before user
// namespaces, a sandbox made by an older burrow) is shifted on its next boot.
import { chmod, lchown, lstat, opendir } from 'node:fs/promises';
import { join } from 'node:path';

/** Ids per sandbox: uid 65534 (nobody) and every id a Debian system hands out fit in it. */
export const ID_RANGE_SIZE = 65_536;

/**
 * Where sandboxes' ranges start on the host: far above the ids of host users and of the
 * subordinate ranges tools like useradd hand out (/etc/subuid, from 100000), with room for 32,767
 * ranges below 2^31.
 */
export const FIRST_ID_BASE = 2 ** 30;

/**
 * Moves every entry under `root` whose owner or group lies in [from, from + size) to the same
 * offset from `to`, `root` itself last. Ids outside that range are left as they are, so a walk
 * cut short by a crash is simply run again. Never follows a symlink: the tree was written by a
 * sandbox, and a link in it may point anywhere on the host.
 */
export async function shiftOwnership(root: string, from: number, to: number): Promise<number> {
  const shift = (id: number) => (id >= from && id < from + ID_RANGE_SIZE ? id - from + to : id);
  let entries = 0;
  const visit = async (path: string): Promise<void> => {
    const st = await lstat(path);
    if (st.isDirectory()) {
      const dir = await opendir(path);
      for await (const entry of dir) await visit(join(path, entry.name));
    }
    const uid = shift(st.uid);
    const gid = shift(st.gid);
    if (uid === st.uid && gid === st.gid) return;
    await lchown(path, uid, gid);
    entries++;
    // chown clears the set-id bits of a file, even for root: put them back as they were.
    if (!st.isSymbolicLink() && (st.mode & 0o6000) !== 0) await chmod(path, st.mode & 0o7777);
  };
  await visit(root);
  return entries;
}

/** The first id of the range a disk's files are in: the owner of its top directory. */
export async function storedIdBase(root: string): Promise<number> {
  return (await lstat(root)).uid;
}
