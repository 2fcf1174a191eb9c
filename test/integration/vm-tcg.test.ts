// The foundation of the `vm` runtime, booted for real under TCG (software emulation: these hosts
// have no usable KVM): the guest kernel and initramfs, an image's ext4 disk and a sandbox's
// reflink clone of it on the pool, a microVM that runs commands through the bridge, discard
// that gives deleted blocks back to the pool, and the acceleration probe.
import { access, mkdir, readFile, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DiskImages,
  diskLayout,
  ensureVmAssets,
  GuestChannel,
  Qmp,
  VmRuntime,
  guestBoots,
  hostTscKhz,
  ImageStore,
  poolLayout,
  runInGuest,
  startMachine,
  stopMachine,
  type RunningMachine,
  type VmAssets,
} from '@burrow/server/testing';
import { CLI } from '../support/instance.js';
import { processesNaming } from '../support/host-state.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance({ BURROW_IMAGE: 'minimal' });
const MiB = 2 ** 20;
const SANDBOX = 'vm-tcg-disk';
const RUNTIME_SANDBOX = 'vm-tcg-runtime';

/** btrfs's view of a file: bytes only it holds, and bytes it shares with other files. */
function extentsOf(path: string): { exclusive: number; shared: number } {
  const out = execFileSync('btrfs', ['filesystem', 'du', '--raw', path], { encoding: 'utf8' });
  const [total, exclusive] = out.trim().split('\n').at(-1)!.trim().split(/\s+/).map(Number);
  return { exclusive: exclusive!, shared: total! - exclusive! };
}

async function allocatedBytes(path: string): Promise<number> {
  return (await stat(path)).blocks * 512;
}

describe('vm runtime foundation under TCG', () => {
  let assets: VmAssets;
  let disks: DiskImages;
  let imageDisk: string;
  let imageId: string;
  let rootfs: string;
  let staleBuild: string;

  beforeAll(async () => {
    assets = await ensureVmAssets(burrow.config.imageCache);
    disks = new DiskImages(diskLayout(poolLayout(burrow.config).root));
    const images = new ImageStore(burrow.config, poolLayout(burrow.config));
    imageId = images.idFor('minimal');
    rootfs = images.pathOf(imageId);
    // What a daemon that crashed mid-build (another pid) left: the build replaces it.
    staleBuild = `${disks.imagePath(imageId)}.partial-4194303`;
    await mkdir(dirname(staleBuild), { recursive: true });
    await writeFile(staleBuild, 'half an image');
    imageDisk = await disks.ensureImage(imageId, rootfs, { sizeBytes: 2 * 1024 * MiB });
  }, 600_000);

  afterAll(async () => {
    await disks?.removeSandboxDisk(SANDBOX);
    await disks?.removeSandboxDisk(RUNTIME_SANDBOX);
    if (imageId) await disks?.removeImage(imageId);
  });

  it('builds a sparse ext4 disk from the image and clones it without copying a block', async () => {
    expect(await access(staleBuild).then(() => 'left', () => 'removed')).toBe('removed');
    const { size } = await stat(imageDisk);
    expect(size).toBe(2 * 1024 * MiB);
    expect(await allocatedBytes(imageDisk)).toBeLessThan(size / 2);
    const rootfsBytes = Number(execFileSync('du', ['-sb', rootfs], { encoding: 'utf8' }).split('\t')[0]);
    console.log(`ext4 image: ${Math.round((await allocatedBytes(imageDisk)) / MiB)} MiB allocated of ${size / MiB} MiB; rootfs ${Math.round(rootfsBytes / MiB)} MiB`);

    const disk = await disks.clone(imageDisk, SANDBOX);
    execFileSync('btrfs', ['filesystem', 'sync', disk]);
    const clone = extentsOf(disk);
    expect(clone.exclusive).toBe(0);
    expect(clone.shared).toBe(await allocatedBytes(imageDisk));
  });

  it('boots the disk, runs commands through the bridge, gives deleted blocks back to the pool, and pauses and resumes', async () => {
    const work = join(burrow.home, 'vm-tcg');
    await mkdir(work, { recursive: true });
    const imageBefore = await stat(imageDisk);
    const agentSocket = join(work, 'agent.sock');
    const qmpSocket = join(work, 'qmp.sock');
    let machine: RunningMachine | undefined;
    let channel: GuestChannel | undefined;
    let qmp: Qmp | undefined;
    try {
      machine = await startMachine(
        {
          accel: 'tcg',
          cpus: 1,
          memoryMb: 512,
          kernel: assets.kernel,
          initramfs: assets.initramfs,
          disk: disks.sandboxPath(SANDBOX),
          agentSocket,
          qmpSocket,
          consoleLog: join(work, 'console.log'),
          tscKhz: await hostTscKhz(),
          kernelArgs: ['panic=-1'],
        },
        join(work, 'qemu.log'),
      );
      channel = await GuestChannel.connect(agentSocket, 10_000);
      const connected = Promise.resolve(channel);
      const guestRun = (args: string[], input?: Buffer) =>
        runInGuest(connected, { args, env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'], cwd: '/', uid: 0, gid: 0 }, input);
      const booted = Date.now();
      await channel.ready(120_000).catch(async (e: Error) => {
        throw new Error(`${e.message}; console: ${(await readFile(join(work, 'console.log'), 'utf8').catch(() => '')).slice(-2000)}`);
      });

      expect(await guestRun(['echo', 'hello'])).toEqual({ code: 0, stdout: 'hello\n', stderr: '' });
      console.log(`TCG: first command ${Date.now() - booted} ms after QEMU started listening`);
      expect(await guestRun(['uname', '-r'])).toEqual({ code: 0, stdout: `${assets.kernelVersion}\n`, stderr: '' });
      expect(await guestRun(['sh', '-c', 'cat; echo oops >&2; exit 3'], Buffer.from('fed through stdin'))).toEqual({
        code: 3,
        stdout: 'fed through stdin',
        stderr: 'oops\n',
      });
      // PID 1 of the disk is burrow's agent, as in containers.
      expect((await guestRun(['cat', '/proc/1/comm'])).stdout).toBe('burrow-agent\n');
      const rss = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${machine.pid}/status`, 'utf8'))![1];
      console.log(`TCG: QEMU resident memory after boot ${Math.round(Number(rss) / 1024)} MiB (guest RAM 512 MiB)`);

      // Discard: a file written and deleted inside leaves no blocks behind in the disk file.
      const disk = disks.sandboxPath(SANDBOX);
      const before = await allocatedBytes(disk);
      expect((await guestRun(['dd', 'if=/dev/zero', 'of=/root/big', 'bs=1M', 'count=64', 'conv=fsync'])).code).toBe(0);
      const written = await allocatedBytes(disk);
      expect(written - before).toBeGreaterThanOrEqual(64 * MiB);
      execFileSync('btrfs', ['filesystem', 'sync', disk]);
      const poolFreeWritten = await statfs(disk);

      const trim = await guestRun(['sh', '-c', 'rm /root/big && sync && fstrim -v /']);
      expect(trim).toMatchObject({ code: 0 });
      const trimmed = await allocatedBytes(disk);
      expect(written - trimmed).toBeGreaterThanOrEqual(64 * MiB);
      execFileSync('btrfs', ['filesystem', 'sync', disk]);
      const poolFreeTrimmed = await statfs(disk);
      expect((poolFreeTrimmed.bavail - poolFreeWritten.bavail) * poolFreeTrimmed.bsize).toBeGreaterThanOrEqual(32 * MiB);

      // Paused (a warm sandbox), the guest runs nothing; resumed, it carries on where it stopped.
      qmp = await Qmp.connect(qmpSocket);
      expect(await qmp.status()).toBe('running');
      await qmp.execute('stop');
      expect(await qmp.status()).toBe('paused');
      let answered = false;
      const whilePaused = guestRun(['echo', 'after the pause']).then((result) => {
        answered = true;
        return result;
      });
      await new Promise((resolve) => setTimeout(resolve, 2000));
      expect(answered).toBe(false);
      await qmp.execute('cont');
      expect(await whilePaused).toEqual({ code: 0, stdout: 'after the pause\n', stderr: '' });
      expect(await qmp.status()).toBe('running');

      // The image's own file is untouched by all of it: the guest wrote to its clone only.
      const imageAfter = await stat(imageDisk);
      expect([imageAfter.mtimeMs, imageAfter.blocks]).toEqual([imageBefore.mtimeMs, imageBefore.blocks]);
    } finally {
      channel?.close();
      qmp?.close();
      if (machine) await stopMachine(machine);
      await rm(work, { recursive: true, force: true });
    }
    expect(processesNaming(agentSocket)).toEqual([]);
  });

  it('runs a sandbox as a microVM through the runtime interface: boot from a bundle, a command through burrow-agent, pause, resume, a daemon restart, checkpoint and restore, remove', async () => {
    const root = join(burrow.home, 'vm-runtime');
    const bundle = join(burrow.home, 'vm-bundle');
    await mkdir(bundle, { recursive: true });
    const id = RUNTIME_SANDBOX;
    const cgroupsPath = `/burrow-${burrow.config.instanceTag}-${id}`;
    await writeFile(
      join(bundle, 'config.json'),
      JSON.stringify({
        hostname: 'vm-runtime',
        root: { path: disks.sandboxPath(id) },
        mounts: [{ destination: '/etc/burrow-test', type: 'bind', source: join(bundle, 'config.json'), options: ['rbind', 'ro'] }],
        linux: { cgroupsPath, resources: { memory: { limit: 384 * MiB }, cpu: { quota: 100_000, period: 100_000 } } },
      }),
    );
    await disks.clone(imageDisk, RUNTIME_SANDBOX);
    const host = { accel: 'tcg' as const, assets, tscKhz: await hostTscKhz() };
    const runtime = new VmRuntime({ root, host: async () => host });
    try {
      await runtime.start(id, bundle);
      expect(await runtime.state(id)).toBe('running');
      expect(await runtime.list()).toEqual([{ id, state: 'running' }]);
      // As core runs every command: the agent's client, whose command PID 1 (burrow-agent) forks.
      const client = ['/usr/local/sbin/burrow-agent', 'exec', 'vmtoken1', '0', '0', '/root', '0', '0', '0', '--'];
      const out = await runtime.run(id, { args: [...client, '/bin/sh', '-c', 'echo "$GREETING from $(pwd)"; grep MemTotal /proc/meminfo'], env: ['GREETING=hi'], cwd: '/', uid: 0, gid: 0 });
      expect(out.split('\n')[0]).toBe('hi from /root');
      // The bundle's hostname and read-only files are the guest's; QEMU runs in the bundle's cgroup.
      expect(await runtime.run(id, { args: [...client, '/bin/hostname'], env: [], cwd: '/', uid: 0, gid: 0 })).toBe('vm-runtime\n');
      expect(JSON.parse(await runtime.run(id, { args: [...client, '/bin/cat', '/etc/burrow-test'], env: [], cwd: '/', uid: 0, gid: 0 })).hostname).toBe('vm-runtime');
      expect((await readFile(`/sys/fs/cgroup/memory${cgroupsPath}/cgroup.procs`, 'utf8')).trim()).toBe(String(await runtime.hostPid(id)));
      const memTotalKb = Number(/MemTotal:\s+(\d+)/.exec(out)![1]);
      expect(memTotalKb).toBeLessThanOrEqual(384 * 1024);
      await expect(runtime.run(id, { args: [...client, '/bin/false'], env: [], cwd: '/', uid: 0, gid: 0 })).rejects.toThrow(/exited 1/);

      await runtime.pause(id);
      expect(await runtime.state(id)).toBe('paused');
      await runtime.resume(id);
      expect(await runtime.state(id)).toBe('running');
      const pid = await runtime.hostPid(id);
      expect(pid).toBeGreaterThan(0);

      // The VM outlives the daemon: a new runtime object (a restarted daemon) finds it and runs in it.
      runtime.close();
      const restarted = new VmRuntime({ root, host: async () => host });
      expect(await restarted.state(id)).toBe('running');
      expect(await restarted.hostPid(id)).toBe(pid);
      expect(await restarted.run(id, { args: [...client, '/bin/echo', 'still here'], env: [], cwd: '/', uid: 0, gid: 0 })).toBe('still here\n');

      // Checkpoint: the guest syncs, pauses, and its disk is cloned; restore clones it back.
      await restarted.run(id, { args: [...client, '/bin/sh', '-c', 'echo kept > /root/note && sync'], env: [], cwd: '/', uid: 0, gid: 0 });
      await restarted.pause(id);
      const checkpoint = await disks.checkpoint(id, 'v1');
      await restarted.resume(id);
      expect(extentsOf(checkpoint).exclusive).toBe(0);
      await restarted.run(id, { args: [...client, '/bin/sh', '-c', 'echo changed > /root/note && sync'], env: [], cwd: '/', uid: 0, gid: 0 });
      await restarted.remove(id);
      await disks.clone(checkpoint, id);
      await restarted.start(id, bundle);
      expect(await restarted.run(id, { args: [...client, '/bin/cat', '/root/note'], env: [], cwd: '/', uid: 0, gid: 0 })).toBe('kept\n');
      restarted.close();
    } finally {
      await runtime.remove(id);
      await rm(bundle, { recursive: true, force: true });
    }
    expect(await runtime.state(id)).toBe('missing');
    expect(processesNaming(join(root, id))).toEqual([]);
    expect(await access(`/sys/fs/cgroup/memory${cgroupsPath}`).then(() => 'left', () => 'removed')).toBe('removed');
  }, 360_000);

  it('probes acceleration by booting, and kills a guest that outlasts the timeout', async () => {
    const guest = { kernel: assets.kernel, initramfs: assets.initramfs };
    expect(await guestBoots('tcg', guest, 90_000)).toBe(true);
    expect(await guestBoots('tcg', guest, 200)).toBe(false);
    expect(processesNaming(assets.initramfs)).toEqual([]);
  }, 240_000);

  it('doctor --fix probes once and remembers the answer beside the image cache; doctor then says it', async () => {
    const imageCache = join(burrow.home, 'doctor-cache', 'images');
    const doctor = async (...args: string[]) =>
      (await promisify(execFile)(process.execPath, [CLI, 'doctor', ...args], { env: { ...process.env, ...burrow.cliEnv(), BURROW_IMAGE_CACHE: imageCache } }))
        .stdout;
    const kvmBoots = await access('/dev/kvm').then(
      () => guestBoots('kvm', { kernel: assets.kernel, initramfs: assets.initramfs }, 20_000),
      () => false,
    );
    const expected = kvmBoots ? 'kvm' : 'tcg';
    const line = kvmBoots ? 'vm sandboxes: KVM' : 'vm sandboxes: TCG';
    try {
      expect(await doctor()).toContain('vm sandboxes: KVM not probed yet');
      expect(await doctor('--fix')).toContain(line);
      expect((await readFile(join(burrow.home, 'doctor-cache', 'vm-acceleration'), 'utf8')).trim()).toBe(expected);
      expect(await doctor()).toContain(line);
    } finally {
      await rm(join(burrow.home, 'doctor-cache'), { recursive: true, force: true });
    }
  }, 600_000);
});
