// The cgroup v1 freezer: stops every host process of a container (for gVisor: the sentry, the
// gofer and the ptrace stubs) in about a millisecond, against 25-50 ms for a `runsc pause`
// process launch. Checkpoints freeze a sandbox this way while its disk is snapshotted.
import { access, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const FREEZER_ROOT = '/sys/fs/cgroup/freezer';
const POLL_MS = 1;

function stateFile(cgroupPath: string): string {
  return join(FREEZER_ROOT, cgroupPath, 'freezer.state');
}

/** Whether the host has a v1 freezer cgroup at this path (a container that runs has one). */
export async function hasFreezer(cgroupPath: string): Promise<boolean> {
  return access(stateFile(cgroupPath)).then(
    () => true,
    () => false,
  );
}

/**
 * Resolves once every task of the cgroup is frozen. A task inside a system call is frozen only
 * when the call returns, so a write that has begun reaches the host's files first.
 */
export async function freeze(cgroupPath: string, timeoutMs = 10_000): Promise<void> {
  const file = stateFile(cgroupPath);
  await writeFile(file, 'FROZEN');
  const deadline = Date.now() + timeoutMs;
  while ((await readFile(file, 'utf8')).trim() !== 'FROZEN') {
    if (Date.now() > deadline) {
      await writeFile(file, 'THAWED');
      throw new Error(`cgroup ${cgroupPath} did not freeze within ${timeoutMs} ms`);
    }
    await sleep(POLL_MS);
  }
}

/** Thaws the cgroup; a cgroup that is not frozen, or no longer exists, is left as it is. */
export async function thaw(cgroupPath: string): Promise<void> {
  await writeFile(stateFile(cgroupPath), 'THAWED').catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT') throw e;
  });
}
