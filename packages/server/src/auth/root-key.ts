// Secret keys kept as files in BURROW_HOME: created once with 32 random bytes, mode 0600.
import { randomBytes } from 'node:crypto';
import { chmod, readFile, writeFile } from 'node:fs/promises';

export async function ensureKeyFile(file: string): Promise<Buffer> {
  const existing = await readFile(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw e;
  });
  if (existing && existing.length === 32) {
    await chmod(file, 0o600);
    return existing;
  }
  if (existing) throw new Error(`${file} is not a 32-byte key (${existing.length} bytes); remove it to make a new one`);
  const key = randomBytes(32);
  // 'wx': two starts racing must not each write a different key.
  await writeFile(file, key, { mode: 0o600, flag: 'wx' }).catch(async (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EEXIST') throw e;
  });
  return readFile(file);
}
