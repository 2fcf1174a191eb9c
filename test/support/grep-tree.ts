// Searches every regular file under a directory for a string, without following symlinks:
// for proving that something (a secret) is nowhere in a tree.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Paths of files under `root` that contain `needle`; `skip` names top-level entries to leave out. */
export async function grepTree(root: string, needle: string, skip: string[] = []): Promise<string[]> {
  const found: string[] = [];
  const wanted = Buffer.from(needle);
  async function walk(dir: string, top: boolean): Promise<void> {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    for (const entry of entries) {
      if (top && skip.includes(entry)) continue;
      const path = join(dir, entry);
      const stat = await lstat(path).catch(() => null);
      if (!stat) continue;
      if (stat.isDirectory()) await walk(path, false);
      else if (stat.isFile() && (await readFile(path).catch(() => Buffer.alloc(0))).includes(wanted)) found.push(path);
    }
  }
  await walk(root, true);
  return found;
}
