// What is mounted where, read from /proc/self/mountinfo (the kernel's view, not a guess).
import { readFile } from 'node:fs/promises';
import { run } from '../util/run.js';

/** mountinfo escapes space, tab, newline and backslash as octal. */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8');
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => unescape(line.split(' ')[4] ?? ''));
}

export async function isMountPoint(path: string): Promise<boolean> {
  return (await mountPoints()).includes(path);
}

/** Every mount point at or below `prefix`, deepest first (the order they must be unmounted in). */
export async function mountsUnder(prefix: string): Promise<string[]> {
  const all = await mountPoints();
  return all
    .filter((m) => m === prefix || m.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`))
    .sort((a, b) => b.length - a.length);
}

/** `lazy` detaches the mount now even while files under it are open (umount -l). */
export async function unmount(path: string, opts: { lazy?: boolean } = {}): Promise<void> {
  // A path can be mounted more than once (stacked); unmount until it is gone.
  while (await isMountPoint(path)) await run('umount', opts.lazy ? ['-l', path] : [path]);
}
