// Memory checkpoints of a `vm` sandbox, under TCG: `{"memory": true}` keeps the running
// processes with the disk, so that a restore or a fork resumes them where they were (the same
// process, counting on from its count in memory), on the sandbox's own network; they outlive a
// daemon restart and the loss of the machine, as a warm sandbox does (its memory is saved when
// it goes warm, and resumed by its next start); a daemon that crashes in the middle of one leaves
// the sandbox running and no memory behind; and what cannot keep memory is refused, saying why.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, Sandbox } from '@burrow/sdk';
import { poolLayout } from '@burrow/server/testing';
import { machinesOf } from '../support/host-state.js';
import { sandboxName } from '../support/instance.js';
import { pageThroughProxy } from '../support/sandbox-port.js';
import { until } from '../support/until.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_IMAGE: 'minimal', BURROW_WARM_AFTER: 'off' });
const name = sandboxName('vm-mem');
let client: BurrowClient;
let box: Sandbox;
/**
 * The counter's script: its count and its mark live in the shell's memory, the file only shows
 * them; SIGUSR1 changes the mark.
 */
const COUNTER = 'mark=before; trap "mark=after" USR1; i=0; while :; do i=$((i + 1)); echo $i $mark > /home/user/count; sleep 0.2; done';

async function counterFile(target: Sandbox): Promise<{ count: number; mark: string }> {
  const [count, mark] = (await target.exec('cat', ['/home/user/count'])).stdout.trim().split(' ');
  return { count: Number(count), mark: mark ?? '' };
}

async function count(target: Sandbox): Promise<number> {
  return (await counterFile(target)).count;
}

async function counterPid(target: Sandbox): Promise<string> {
  return (await target.exec('pgrep', ['-f', '^sh -c mark=before']).catch(() => ({ stdout: '' }))).stdout.trim();
}

/** Memory files left in the live disk's folder of the sandbox. */
async function memoryFilesOfLiveDisks(): Promise<string[]> {
  const sandboxes = poolLayout(burrow.config).sandboxes;
  const found: string[] = [];
  for (const id of (await readdir(sandboxes)).filter((entry) => !entry.includes('.'))) {
    found.push(...(await readdir(join(sandboxes, id))).filter((file) => file.startsWith('memory.')).sort());
  }
  return found;
}

/** QEMU processes of this instance still running: what destroy must leave none of. */
const machinesOfThisInstance = () => machinesOf(burrow.home);

beforeAll(async () => {
  client = burrow.client();
  box = await client.createSandbox(name, { runtime: 'vm', config: { ram_mb: 512, storage_gb: 2 } });
  await box.exec('sh', ['-c', `nohup sh -c '${COUNTER}' >/dev/null 2>&1 &`]);
  await box.exec('sh', ['-c', 'mkdir -p /tmp/site && echo "served by pid $$" > /tmp/site/index.html && cd /tmp/site && nohup python3 -m http.server 8080 >/dev/null 2>&1 &']);
  await until('the counter to count', () => count(box).catch(() => 0), { accept: (n) => n > 3 });
}, 600_000);

afterAll(async () => {
  await box?.delete().catch(() => {});
});

describe('a memory checkpoint of a vm sandbox, under TCG', { timeout: 300_000 }, () => {
  let checkpointId = '';
  let pid = '';
  let atCheckpoint = 0;

  it('is taken while the sandbox runs on, and says it holds memory', async () => {
    pid = await counterPid(box);
    expect(pid).toMatch(/^\d+$/);
    const before = await count(box);
    const checkpoint = await box.createCheckpoint('counting', { memory: true });
    atCheckpoint = await count(box);
    checkpointId = checkpoint.id;
    expect(checkpoint.memory).toBe(true);
    expect(atCheckpoint).toBeGreaterThanOrEqual(before);
    await until('the counter to count on after the checkpoint', () => count(box), { accept: (n) => n > atCheckpoint + 5 });
    expect(await memoryFilesOfLiveDisks()).toEqual([]);
    const plain = await box.createCheckpoint('disk only');
    expect(plain.memory).toBe(false);
  });

  it('resumes the same process on restore, with its memory as it was at the checkpoint', async () => {
    await box.exec('kill', ['-USR1', pid]);
    await until('the counter to take its new mark', () => counterFile(box), { accept: (f) => f.mark === 'after' });
    await box.restoreCheckpoint(checkpointId);
    const resumed = await counterFile(box);
    expect(resumed.mark).toBe('before');
    expect(resumed.count).toBeGreaterThanOrEqual(atCheckpoint - 5);
    expect(await counterPid(box)).toBe(pid);
    await until('the resumed counter to count', () => count(box), { accept: (n) => n > resumed.count + 3 });
    // Its clock is the host's again, not the moment the memory was saved.
    const guestSeconds = Number((await box.exec('date', ['+%s'])).stdout.trim());
    expect(Math.abs(guestSeconds - Date.now() / 1000)).toBeLessThan(30);
    expect(await pageThroughProxy(box, 8080)).toContain('served by pid');
    // The memory held the guest's filesystem frozen for the checkpoint, and the views it had
    // mounted from the machine it was saved on: it writes again, and shows this machine's views.
    expect((await box.exec('sh', ['-c', 'echo written > /home/user/after-restore && cat /home/user/after-restore'])).stdout).toBe('written\n');
    expect((await box.exec('ls', [`/.burrow/checkpoints/${checkpointId}/home/user`])).exitCode).toBe(0);
  });

  it('resumes the processes in a fork, on the fork\'s own network and hostname', async () => {
    const fork = await box.fork(checkpointId, sandboxName('vm-mem-fork'));
    try {
      expect(await counterPid(fork)).toBe(pid);
      const { count: resumed, mark } = await counterFile(fork);
      expect(mark).toBe('before');
      expect(resumed).toBeGreaterThanOrEqual(atCheckpoint - 5);
      await until('the fork\'s counter to count', () => count(fork), { accept: (n) => n > resumed + 3 });
      expect((await fork.exec('hostname')).stdout).toBe(`${fork.name}\n`);
      // The server the source ran answers at the fork's address, through the fork's proxy.
      expect(await pageThroughProxy(fork, 8080)).toContain('served by pid');
      const addresses = async (target: Sandbox) => (await target.exec('cat', ['/proc/net/fib_trie'])).stdout;
      expect(await addresses(fork)).not.toBe(await addresses(box));
      // The source counts on, untouched.
      expect(await counterPid(box)).toBe(pid);
    } finally {
      await fork.delete();
    }
  });

  it('outlives a daemon restart and the loss of the machine', async () => {
    await burrow.stop();
    for (const pid of machinesOfThisInstance()) process.kill(pid, 'SIGKILL');
    await burrow.start();
    client = burrow.client();
    box = client.sandbox(name);
    await box.restoreCheckpoint(checkpointId);
    expect(await counterPid(box)).toBe(pid);
    const resumed = await count(box);
    await until('the counter to count after the restart', () => count(box), { accept: (n) => n > resumed + 3 });
  });

  it('keeps a warm sandbox\'s processes through the loss of its machine: its next start resumes them', async () => {
    expect((await box.sleep()).status).toBe('warm');
    expect(await memoryFilesOfLiveDisks()).toEqual(['memory.json', 'memory.state']);
    await burrow.stop();
    for (const pid of machinesOfThisInstance()) process.kill(pid, 'SIGKILL');
    await burrow.start();
    client = burrow.client();
    box = client.sandbox(name);
    // Its machine is gone, as after a host reboot: cold, with its memory on disk.
    expect((await box.refresh()).status).toBe('cold');
    expect(await counterPid(box)).toBe(pid);
    expect(await memoryFilesOfLiveDisks()).toEqual([]);
    const resumed = await count(box);
    await until('the counter to count after the wake', () => count(box), { accept: (n) => n > resumed + 3 });
    // Woken from a machine that still runs, the memory saved at its sleep is stale: it goes.
    await box.sleep();
    await box.exec('true');
    expect(await memoryFilesOfLiveDisks()).toEqual([]);
  });

  it('leaves the sandbox running and no memory behind when the daemon crashes while saving it', async () => {
    await burrow.stop();
    await burrow.start({ BURROW_CRASH_AT: 'checkpoint:create:memory' });
    await expect(burrow.client().sandbox(name).createCheckpoint('cut short', { memory: true })).rejects.toThrow();
    await burrow.exited();
    await burrow.start();
    client = burrow.client();
    box = client.sandbox(name);
    expect((await box.listCheckpoints()).map((c) => c.comment)).not.toContain('cut short');
    expect(await memoryFilesOfLiveDisks()).toEqual([]);
    const now = await count(box);
    await until('the counter to count after the crash', () => count(box), { accept: (n) => n > now + 3 });
    expect(await counterPid(box)).toBe(pid);
  });

  it('refuses a cold sandbox, and a runtime that cannot keep memory, with nothing made', async () => {
    const listed = (await box.listCheckpoints({ includeAuto: true })).length;
    await box.sleep({ cold: true });
    await expect(box.createCheckpoint('asleep', { memory: true })).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/no running processes to keep/) });
    expect((await box.refresh()).status).toBe('cold');
    const runc = await client.createSandbox(sandboxName('vm-mem-runc'), { runtime: 'runc' });
    try {
      await expect(runc.createCheckpoint('no', { memory: true })).rejects.toMatchObject({ status: 400, code: 'invalid_request', message: expect.stringMatching(/only vm sandboxes/) });
      expect(await runc.listCheckpoints()).toHaveLength(1);
    } finally {
      await runc.delete();
    }
    expect((await box.listCheckpoints({ includeAuto: true })).length).toBe(listed);
  });
});
