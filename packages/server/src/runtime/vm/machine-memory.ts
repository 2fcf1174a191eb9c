// A machine's memory saved to a file beside its disk, and resumed by a new QEMU: how a
// checkpoint keeps the sandbox's running processes, so that a restore or fork of it resumes
// them. The memory is QEMU's migration stream, written and read through `cat` (QEMU 7.2 has no
// `file:` migration) by QEMU's shell in QEMU's working directory, the disk's folder: the
// commands are constants that name no path, so nothing of a sandbox's ever reaches a shell.
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Qmp } from './qmp.js';

/** The memory beside the disk; the next boot of the disk resumes it. */
export const MEMORY_FILE = 'memory.state';
const PARTIAL_FILE = `${MEMORY_FILE}.partial`;
/** The memory a new QEMU is reading: taken out of the way first, so that no later boot resumes it again. */
const RESUMING_FILE = `${MEMORY_FILE}.resuming`;
/** What resuming needs besides the memory: the machine's size, and the disk as the memory left it. */
const FACTS_FILE = 'memory.json';

const MemoryFacts = z.object({
  cpus: z.number().int().positive(),
  memoryMb: z.number().int().positive(),
  /** The machine's checkpoint view slots: memory saved before machines had them had none. */
  viewSlots: z.number().int().nonnegative().default(0),
  /**
   * The disk's modification time (ms) when the memory was saved: a disk written since is not the
   * memory's (growing it keeps the time: see SandboxDisks.ensureMachineDisk).
   */
  diskMtimeMs: z.number(),
});
export type MemoryFacts = z.infer<typeof MemoryFacts>;

/** QEMU holds migration to 128 MiB/s by default, for a live machine's sake; a paused one is written at the disk's speed. */
const UNLIMITED_BANDWIDTH = 2 ** 40;
const MIGRATION_TIMEOUT_MS = 600_000;

/**
 * Pauses the machine and writes its memory (and its devices' state) beside its disk, which is
 * then exactly as that memory last saw it: QEMU has flushed its writes and let go of the disk.
 * The machine stays paused; `cont` runs it on.
 */
export async function saveMemory(qmp: Qmp, folder: string, disk: string, size: { cpus: number; memoryMb: number; viewSlots: number }): Promise<void> {
  await qmp.execute('stop');
  await qmp.execute('migrate-set-parameters', { 'max-bandwidth': UNLIMITED_BANDWIDTH });
  await qmp.execute('migrate', { uri: `exec:cat > ${PARTIAL_FILE}` });
  await migrationDone(qmp, 'saving the memory');
  const diskMtimeMs = await mtimeMsOf(disk);
  await rename(join(folder, PARTIAL_FILE), join(folder, MEMORY_FILE));
  // Written last: memory without its facts is never resumed.
  const facts: MemoryFacts = { ...size, diskMtimeMs };
  await writeFile(join(folder, FACTS_FILE), JSON.stringify(facts));
}

/**
 * The memory saved beside `disk`, taken out of the way for the machine about to resume it; null
 * when there is none, or when the disk was written since (a crash left the memory behind while
 * the machine ran on): that memory is removed.
 */
export async function takeSavedMemory(folder: string, disk: string): Promise<MemoryFacts | null> {
  const facts = await readFile(join(folder, FACTS_FILE), 'utf8').then(parseFacts, () => null);
  const saved =
    facts !== null &&
    facts.diskMtimeMs === (await mtimeMsOf(disk)) &&
    (await rename(join(folder, MEMORY_FILE), join(folder, RESUMING_FILE)).then(
      () => true,
      () => false,
    ));
  if (saved) return facts;
  await discardMemory(folder);
  return null;
}

/** Removes whatever memory lies beside the disk: saved, half-written or being read. */
export async function discardMemory(folder: string): Promise<void> {
  await Promise.all([MEMORY_FILE, PARTIAL_FILE, RESUMING_FILE, FACTS_FILE].map((file) => rm(join(folder, file), { force: true })));
}

/**
 * Reads the memory takeSavedMemory set aside into a machine started `incoming` (machine.ts),
 * then removes it. The machine stays paused; `cont` resumes the guest where it was.
 */
export async function loadMemory(qmp: Qmp, folder: string): Promise<void> {
  await qmp.execute('migrate-incoming', { uri: `exec:cat ${RESUMING_FILE}` });
  await migrationDone(qmp, 'resuming the memory');
  await discardMemory(folder);
}

async function migrationDone(qmp: Qmp, what: string): Promise<void> {
  const deadline = Date.now() + MIGRATION_TIMEOUT_MS;
  for (;;) {
    const state = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (state.status === 'completed') return;
    if (state.status === 'failed' || state.status === 'cancelled') throw new Error(`${what} failed: ${state['error-desc'] ?? state.status}`);
    if (Date.now() > deadline) throw new Error(`${what} took more than ${MIGRATION_TIMEOUT_MS / 1000} s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Facts cut short or made up are no facts: that memory is not resumed. */
function parseFacts(text: string): MemoryFacts | null {
  try {
    return MemoryFacts.safeParse(JSON.parse(text)).data ?? null;
  } catch {
    return null;
  }
}

/** Whole milliseconds: what a time set again through utimes keeps of it. */
async function mtimeMsOf(path: string): Promise<number> {
  return Number((await stat(path, { bigint: true })).mtimeNs / 1_000_000n);
}
