// The host's process ids are one space that every sandbox's pids limit draws from. The kernel's
// default of 32,768 (what a host booted without systemd keeps; systemd raises it to 2^22 on
// 64-bit machines) is used up by eight sandboxes at the default limit of 4,096: one fork bomb
// per sandbox would then leave the host unable to start a process.
import { readFile, writeFile } from 'node:fs/promises';

const PID_MAX = '/proc/sys/kernel/pid_max';
/** The largest the kernel allows on 64-bit machines, and systemd's setting. */
export const HOST_PID_MAX = 4_194_304;

/** Raises kernel.pid_max to {@link HOST_PID_MAX}; resolves with the old value when it did. */
export async function raisePidMax(): Promise<number | null> {
  const current = Number((await readFile(PID_MAX, 'utf8')).trim());
  if (current >= HOST_PID_MAX) return null;
  await writeFile(PID_MAX, `${HOST_PID_MAX}\n`);
  return current;
}
