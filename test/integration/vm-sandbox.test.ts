// What only `vm` sandboxes have, through the API and the CLI as a user drives them, booted for
// real under TCG (these hosts have no usable KVM; slow, so one sandbox serves every test in
// order): the image's disk made by `burrow image build --vm`, a kernel of its own, the disk grown
// to storage_gb and kept in the sandbox's subvolume, no OCI export, the machine stopped on cold
// sleep, a daemon crash, limits at the next boot, and destroy leaving no machine behind. What
// every runtime does (commands, files, URLs, checkpoints, sleep...) is in runtimes.test.ts.
import { execFileSync } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, Sandbox } from '@burrow/sdk';
import { poolLayout } from '@burrow/server/testing';
import { hostState, machinesOf } from '../support/host-state.js';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_IMAGE: 'minimal', BURROW_WARM_AFTER: 'off' });
const name = sandboxName('vm');
let client: BurrowClient;
let box: Sandbox;
/** What `burrow image build minimal --vm` printed before the sandbox was made, and when its disk was last written. */
let built: { code: number | null; stdout: string; stderr: string };
let builtDiskMtimeMs: number;

/** QEMU processes of this instance still running: what destroy must leave none of. */
const machinesOfThisInstance = () => machinesOf(burrow.home);

/** The image disk that `burrow image build --vm` says vm sandboxes boot from. */
const bootDiskOf = (stdout: string) => /^vm sandboxes boot it from (\S+)$/m.exec(stdout)?.[1] ?? '';

beforeAll(async () => {
  built = await burrow.cli(['image', 'build', 'minimal', '--vm']);
  builtDiskMtimeMs = (await stat(bootDiskOf(built.stdout))).mtimeMs;
  client = burrow.client();
  box = await client.createSandbox(name, { runtime: 'vm', config: { ram_mb: 512, storage_gb: 4 } });
}, 600_000);

afterAll(async () => {
  await box?.delete().catch(() => {});
});

describe('a vm sandbox, under TCG', { timeout: 300_000 }, () => {
  it('boots from the disk that `burrow image build --vm` made beforehand, which the next build keeps', async () => {
    expect(built, built.stderr).toMatchObject({ code: 0, stdout: expect.stringMatching(/making the image's disk for vm sandboxes/) });
    const disk = bootDiskOf(built.stdout);
    expect(disk).toMatch(/\/vm-disks\/images\/minimal-[0-9a-f]+\.ext4$/);
    expect((await stat(disk)).mtimeMs).toBe(builtDiskMtimeMs);
    const again = await burrow.cli(['image', 'build', 'minimal', '--vm']);
    expect(again).toMatchObject({ code: 0, stdout: `image minimal is already built (${disk.split('/').at(-1)!.replace(/\.ext4$/, '')})\nvm sandboxes boot it from ${disk}\n` });
  });

  it('runs in a machine of its own: its own kernel, the disk grown to storage_gb in its subvolume', async () => {
    const sprite = await box.refresh();
    expect(sprite).toMatchObject({ status: 'running', runtime: 'vm' });
    expect(sprite.isolation).toMatch(/microVM/);
    const kernel = await box.exec('uname', ['-r']);
    expect(kernel.stdout.trim()).not.toBe(execFileSync('uname', ['-r'], { encoding: 'utf8' }).trim());
    expect(kernel.stdout).toMatch(/cloud-amd64/);
    const df = await box.exec('df', ['-B1', '--output=size', '/']);
    const rootBytes = Number(df.stdout.trim().split('\n').at(-1));
    expect(rootBytes).toBeGreaterThan(3.5 * 2 ** 30);
    expect(machinesOfThisInstance()).toHaveLength(1);
    // The disk is one file in the sandbox's subvolume, so a checkpoint is a snapshot of it.
    const sandboxes = poolLayout(burrow.config).sandboxes;
    const [id] = (await readdir(sandboxes)).filter((entry) => !entry.includes('.'));
    expect((await stat(join(sandboxes, id!, 'disk.ext4'))).size).toBe(4 * 2 ** 30);
  });

  it('refuses to become an OCI archive, and an archive to become a vm sandbox, saying why', async () => {
    await expect(box.export()).rejects.toMatchObject({ status: 409, message: expect.stringMatching(/vm sandboxes are not exported/) });
    const refused = client.importSandbox(sandboxName('vm-import'), (async function* () {
      yield new Uint8Array(512);
    })(), { runtime: 'vm' });
    await expect(refused).rejects.toMatchObject({ status: 400, code: 'invalid_request' });
    expect((await client.listSandboxes()).map((s) => s.name)).toEqual([name]);
  });

  it('stops its machine on cold sleep, and boots it again on the next command', async () => {
    await box.exec('sh', ['-c', 'echo slept > /home/user/sleep']);
    expect((await box.sleep({ cold: true })).status).toBe('cold');
    expect(machinesOfThisInstance()).toHaveLength(0);
    expect((await box.exec('cat', ['/home/user/sleep'])).stdout).toBe('slept\n');
    expect(machinesOfThisInstance()).toHaveLength(1);
  });

  it('keeps running through a daemon crash, and a create cut short by one leaves nothing behind', async () => {
    const [machine] = machinesOfThisInstance();
    await burrow.stop();
    await burrow.start({ BURROW_CRASH_AT: 'create:started' });
    const cut = sandboxName('vm-cut');
    await expect(burrow.client().createSandbox(cut, { runtime: 'vm' })).rejects.toThrow();
    await burrow.exited();
    await burrow.start();
    // The restarted daemon listens on a port of its own.
    client = burrow.client();
    box = client.sandbox(name);
    await expect(client.getSandbox(cut)).rejects.toMatchObject({ status: 404 });
    expect(machinesOfThisInstance()).toEqual([machine]);
    const state = hostState(burrow.config);
    expect(state.rows).toEqual([name]);
    expect(state.containers).toHaveLength(1);
    expect(state.cgroups).toHaveLength(1);
    expect((await box.exec('echo', ['still running'])).stdout).toBe('still running\n');
    // The new daemon offers the machine its sockets again.
    expect(JSON.parse((await box.exec('burrow-env', ['info'])).stdout)).toMatchObject({ name });
  });

  it('writes again after a daemon crash that left its filesystem frozen for a checkpoint', async () => {
    await burrow.stop();
    await burrow.start({ BURROW_CRASH_AT: 'checkpoint:create:synced' });
    await expect(burrow.client().sandbox(name).createCheckpoint('cut short')).rejects.toThrow();
    await burrow.exited();
    await burrow.start();
    client = burrow.client();
    box = client.sandbox(name);
    expect((await box.listCheckpoints()).map((c) => c.comment)).not.toContain('cut short');
    const written = await box.exec('sh', ['-c', 'echo thawed > /home/user/thawed && cat /home/user/thawed']);
    expect(written.stdout).toBe('thawed\n');
  });

  it('takes new limits at its next boot, pids_limit in its own kernel, and refuses to shrink its disk', async () => {
    await expect(box.updateLimits({ storage_gb: 2 })).rejects.toMatchObject({ status: 409 });
    await box.updateLimits({ ram_mb: 768, pids_limit: 64 });
    await box.restart();
    const memTotalKb = Number(/MemTotal:\s+(\d+)/.exec((await box.exec('cat', ['/proc/meminfo'])).stdout)?.[1]);
    expect(memTotalKb).toBeGreaterThan(600 * 1024);
    // Each user's processes, as under gVisor: the guest's kernel refuses the 65th.
    const limits = (await box.exec('cat', ['/proc/self/limits'])).stdout;
    expect(limits).toMatch(/^Max processes\s+64\s+64\s/m);
    const burst = await box.exec('sh', ['-c', 'for i in $(seq 80); do sleep 300 >/dev/null 2>&1 </dev/null & done; echo started']);
    expect(burst.stdout + burst.stderr).toMatch(/fork|Resource temporarily unavailable/i);
    expect((await box.killProcesses()).killed).toBeGreaterThan(0);
    expect((await box.exec('echo', ['room again'])).stdout).toBe('room again\n');
  });

  it('is destroyed with its machine, disk and cgroup', async () => {
    await box.delete();
    expect(machinesOfThisInstance()).toHaveLength(0);
    const sandboxes = poolLayout(burrow.config).sandboxes;
    expect((await readdir(sandboxes)).filter((entry) => !entry.includes('.'))).toEqual([]);
    const cgroups = await readdir('/sys/fs/cgroup/memory');
    expect(cgroups.filter((c) => c.startsWith(`burrow-${burrow.config.instanceTag}-`))).toEqual([]);
  });
});
