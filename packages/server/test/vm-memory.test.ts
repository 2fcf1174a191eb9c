// The host side of a vm's saved memory: which memory beside a disk is resumed and which is
// stale, what QEMU is told (constant commands, a waiting machine), and how QEMU's run states
// read as a container's. Saving and resuming a real machine: test/integration/vm-memory.test.ts.
import { mkdtemp, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MEMORY_FILE, discardMemory, loadMemory, saveMemory, takeSavedMemory } from '../src/runtime/vm/machine-memory.js';
import { qemuArgs, type MachineSpec } from '../src/runtime/vm/machine.js';
import { resumedGuestCommand } from '../src/runtime/vm/initramfs.js';
import type { Qmp } from '../src/runtime/vm/qmp.js';
import { containerStateOf } from '../src/runtime/vm-runtime.js';

/** A QMP that records commands and plays a migration QEMU carries out: `cat` run in `folder`. */
function fakeQmp(folder: string, migration: { status: string; 'error-desc'?: string } = { status: 'completed' }) {
  const commands: Array<{ command: string; args?: Record<string, unknown> }> = [];
  const qmp = {
    async execute(command: string, args?: Record<string, unknown>) {
      commands.push({ command, args });
      if (command === 'migrate') await writeFile(join(folder, 'memory.state.partial'), 'ram');
      return command === 'query-migrate' ? migration : {};
    },
  } as unknown as Qmp;
  return { qmp, commands };
}

describe("a machine's saved memory", () => {
  let folder: string;
  let disk: string;
  beforeEach(async () => {
    folder = await mkdtemp(join(tmpdir(), 'burrow-memory-'));
    disk = join(folder, 'disk.ext4');
    await writeFile(disk, 'blocks');
    await utimes(disk, new Date('2026-01-01T00:00:00.123Z'), new Date('2026-01-01T00:00:00.123Z'));
  });
  afterEach(() => rm(folder, { recursive: true, force: true }));

  it('is written through a constant command in the disk folder, and resumed on a machine of its size', async () => {
    const { qmp, commands } = fakeQmp(folder);
    await saveMemory(qmp, folder, disk, { cpus: 2, memoryMb: 768, viewSlots: 5 });
    expect(commands.map((c) => c.command)).toEqual(['stop', 'migrate-set-parameters', 'migrate', 'query-migrate']);
    expect(commands[2]!.args).toEqual({ uri: 'exec:cat > memory.state.partial' });
    expect((await readdir(folder)).sort()).toEqual(['disk.ext4', 'memory.json', MEMORY_FILE]);
    expect(await takeSavedMemory(folder, disk)).toMatchObject({ cpus: 2, memoryMb: 768, viewSlots: 5 });
    // Taken once: a second boot of the same disk does not resume it again.
    expect(await takeSavedMemory(folder, disk)).toBeNull();
  });

  it('is read by a waiting machine and then removed', async () => {
    await saveMemory(fakeQmp(folder).qmp, folder, disk, { cpus: 1, memoryMb: 512, viewSlots: 5 });
    await takeSavedMemory(folder, disk);
    const { qmp, commands } = fakeQmp(folder);
    await loadMemory(qmp, folder);
    expect(commands[0]).toEqual({ command: 'migrate-incoming', args: { uri: 'exec:cat memory.state.resuming' } });
    expect(await readdir(folder)).toEqual(['disk.ext4']);
  });

  it('is stale once the disk was written after it, and then removed, not resumed', async () => {
    await saveMemory(fakeQmp(folder).qmp, folder, disk, { cpus: 1, memoryMb: 512, viewSlots: 5 });
    await writeFile(disk, 'written since');
    expect(await takeSavedMemory(folder, disk)).toBeNull();
    expect(await readdir(folder)).toEqual(['disk.ext4']);
  });

  it('is still the disk\'s own after the disk grew with its time kept, as SandboxDisks grows it', async () => {
    await saveMemory(fakeQmp(folder).qmp, folder, disk, { cpus: 1, memoryMb: 512, viewSlots: 5 });
    const { atime, mtime } = await stat(disk);
    await truncate(disk, 4096);
    await utimes(disk, atime, mtime);
    expect(await takeSavedMemory(folder, disk)).not.toBeNull();
  });

  it('saved by a machine without view slots, resumes on one without them: its devices must be the same', async () => {
    await saveMemory(fakeQmp(folder).qmp, folder, disk, { cpus: 1, memoryMb: 512, viewSlots: 5 });
    const { viewSlots: _, ...older } = JSON.parse(await readFile(join(folder, 'memory.json'), 'utf8')) as Record<string, unknown>;
    await writeFile(join(folder, 'memory.json'), JSON.stringify(older));
    expect(await takeSavedMemory(folder, disk)).toMatchObject({ viewSlots: 0 });
  });

  it('is never resumed without its facts, nor half-written', async () => {
    await writeFile(join(folder, MEMORY_FILE), 'ram');
    await writeFile(join(folder, 'memory.state.partial'), 'ra');
    expect(await takeSavedMemory(folder, disk)).toBeNull();
    expect(await readdir(folder)).toEqual(['disk.ext4']);
  });

  it('is not resumed when its facts were cut short, and the boot goes on without it', async () => {
    await saveMemory(fakeQmp(folder).qmp, folder, disk, { cpus: 1, memoryMb: 512, viewSlots: 5 });
    await writeFile(join(folder, 'memory.json'), '{"cpus": 1, "memo');
    expect(await takeSavedMemory(folder, disk)).toBeNull();
    expect(await readdir(folder)).toEqual(['disk.ext4']);
  });

  it('says why a migration failed, leaving nothing to resume', async () => {
    const { qmp } = fakeQmp(folder, { status: 'failed', 'error-desc': 'no space left' });
    await expect(saveMemory(qmp, folder, disk, { cpus: 1, memoryMb: 512, viewSlots: 5 })).rejects.toThrow(/saving the memory failed: no space left/);
    expect(await takeSavedMemory(folder, disk)).toBeNull();
    await discardMemory(folder);
    expect(await readdir(folder)).toEqual(['disk.ext4']);
  });
});

describe('a machine that resumes memory', () => {
  const spec: MachineSpec = { accel: 'tcg', cpus: 1, memoryMb: 512, kernel: '/k', initramfs: '/i', consoleLog: '/c' };

  it('starts paused, waiting for the memory instead of booting', () => {
    expect(qemuArgs({ ...spec, incoming: true }).slice(-3)).toEqual(['-S', '-incoming', 'defer']);
    expect(qemuArgs(spec)).not.toContain('-incoming');
  });

  it("reads QEMU's run states as a container's", () => {
    expect(containerStateOf('running')).toBe('running');
    for (const held of ['paused', 'postmigrate', 'inmigrate', 'prelaunch']) expect(containerStateOf(held)).toBe('paused');
    for (const ended of ['shutdown', 'guest-panicked', 'internal-error']) expect(containerStateOf(ended)).toBe('stopped');
  });

  it("gives the guest its network and the time as arguments, never inside the script", () => {
    const command = resumedGuestCommand('10.7.0.2/30,10.7.0.1', 1_800_000_000);
    expect(command.slice(0, 3)).toEqual(['/run/burrow-vm/busybox', 'sh', '-c']);
    expect(command.slice(4)).toEqual(['sh', '10.7.0.2/30,10.7.0.1', '1800000000']);
    expect(command[3]).not.toContain('10.7.0');
  });
});
