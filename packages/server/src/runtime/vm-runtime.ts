// The `vm` runtime: each sandbox a QEMU microVM with its own kernel (vm/), its disk an ext4
// image file on the pool (storage/disk-images.ts). It speaks the same verbs as the OCI
// runtimes, so that core/ can drive it unchanged (commands are streamed through the guest's
// bridge: vm/guest-process.ts); not offered for sandboxes yet: the guest has no network.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ContainerState, ProcessSpec, SandboxRuntime } from './runtime.js';
import { GuestChannel } from './vm/guest-channel.js';
import { GuestProcess, runInGuest } from './vm/guest-process.js';
import { startMachine, type Acceleration } from './vm/machine.js';
import { Qmp } from './vm/qmp.js';
import type { VmAssets } from './vm/vm-assets.js';

/** A guest under TCG takes seconds to reach its bridge; under KVM well under one. */
const BOOT_TIMEOUT_MS = 120_000;
const MiB = 2 ** 20;

interface VmRuntimeOptions {
  /** State directory private to this burrow instance: one folder per VM (sockets, pid, logs). */
  root: string;
  accel: Acceleration;
  assets: VmAssets;
  tscKhz: number | undefined;
  /** The ext4 image file that is the container's disk (a reflink clone made by storage/). */
  diskOf: (containerId: string) => string;
}

/** What the VM is sized by: the limits the OCI bundle gives its container. */
export interface MachineSize {
  cpus: number;
  memoryMb: number;
}

/** vCPUs and RAM from the bundle's cgroup limits (a fractional CPU limit still needs one vCPU). */
export function machineSizeOf(ociConfig: unknown): MachineSize {
  const resources = (ociConfig as { linux?: { resources?: { memory?: { limit?: number }; cpu?: { quota?: number; period?: number } } } })?.linux?.resources;
  const memory = resources?.memory?.limit;
  const quota = resources?.cpu?.quota;
  const period = resources?.cpu?.period;
  return {
    cpus: quota && period && quota > 0 ? Math.max(1, Math.ceil(quota / period)) : 1,
    memoryMb: memory && memory > 0 ? Math.max(128, Math.floor(memory / MiB)) : 512,
  };
}

export class VmRuntime implements SandboxRuntime {
  readonly kind = 'vm' as const;
  readonly isolation: string;
  private readonly channels = new Map<string, Promise<GuestChannel>>();

  constructor(private readonly opts: VmRuntimeOptions) {
    this.isolation =
      opts.accel === 'kvm'
        ? 'vm: a QEMU microVM with its own Linux kernel under KVM; the host kernel is behind a hardware virtualisation boundary'
        : 'vm: a QEMU microVM with its own Linux kernel under TCG (software emulation: slow); the host kernel is not exposed';
  }

  private dir(containerId: string): string {
    return join(this.opts.root, containerId);
  }

  async start(containerId: string, bundleDir: string): Promise<void> {
    const dir = this.dir(containerId);
    await mkdir(dir, { recursive: true });
    const size = machineSizeOf(JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')));
    const machine = await startMachine(
      {
        accel: this.opts.accel,
        ...size,
        kernel: this.opts.assets.kernel,
        initramfs: this.opts.assets.initramfs,
        disk: this.opts.diskOf(containerId),
        agentSocket: join(dir, 'agent.sock'),
        qmpSocket: join(dir, 'qmp.sock'),
        consoleLog: join(dir, 'console.log'),
        tscKhz: this.opts.tscKhz,
        kernelArgs: ['panic=-1'],
      },
      join(dir, 'qemu.log'),
    );
    await writeFile(join(dir, 'pid'), `${machine.pid}\n`);
    try {
      await (await this.channel(containerId)).ready(BOOT_TIMEOUT_MS);
    } catch (e) {
      const console = (await readFile(join(dir, 'console.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join(' | ');
      await this.remove(containerId);
      throw new Error(`vm ${containerId} did not boot: ${(e as Error).message}${console ? `; its console: ${console}` : ''}`);
    }
  }

  async state(containerId: string): Promise<ContainerState> {
    if (!(await this.hostPid(containerId))) return 'missing';
    const qmp = await Qmp.connect(join(this.dir(containerId), 'qmp.sock')).catch(() => null);
    if (!qmp) return 'stopped';
    try {
      return (await qmp.status()) === 'paused' ? 'paused' : 'running';
    } finally {
      qmp.close();
    }
  }

  async list(): Promise<Array<{ id: string; state: ContainerState }>> {
    const ids = await readdir(this.opts.root).catch(() => [] as string[]);
    return Promise.all(ids.map(async (id) => ({ id, state: await this.state(id) })));
  }

  /**
   * Starts a command in the guest through its bridge, with exactly the spec's environment,
   * directory and uid/gid; it is queued while the channel connects. As for containers, the
   * runtime is asked only for burrow-agent's client (as root), PID 1 forks the real command.
   */
  exec(containerId: string, process: ProcessSpec): ChildProcessWithoutNullStreams {
    return new GuestProcess(this.channel(containerId), process).asChildProcess();
  }

  async run(containerId: string, process: ProcessSpec, timeoutMs = 60_000): Promise<string> {
    const result = await runInGuest(this.channel(containerId), process, undefined, timeoutMs).catch((e: Error) => {
      throw new Error(`vm ${containerId}: ${process.args.join(' ')}: ${e.message}`);
    });
    if (result.code !== 0) throw new Error(`vm ${containerId}: ${process.args.join(' ')} exited ${result.code}: ${result.stderr.trim().slice(-500)}`);
    return result.stdout;
  }

  /** QEMU's pid while it runs; 0 once it is gone (or the pid was reused by another program). */
  async hostPid(containerId: string): Promise<number> {
    const pid = Number((await readFile(join(this.dir(containerId), 'pid'), 'utf8').catch(() => '')).trim());
    if (!pid) return 0;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    return cmdline.includes(this.dir(containerId)) ? pid : 0;
  }

  /** The guest's own processes are behind its kernel; the host sees one QEMU. */
  async tasks(): Promise<number | null> {
    return null;
  }

  async pause(containerId: string): Promise<void> {
    await this.qmp(containerId, 'stop');
  }

  async resume(containerId: string): Promise<void> {
    await this.qmp(containerId, 'cont');
  }

  async kill(containerId: string): Promise<void> {
    const pid = await this.hostPid(containerId);
    this.closeChannel(containerId);
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  async remove(containerId: string): Promise<void> {
    const pid = await this.hostPid(containerId);
    await this.kill(containerId);
    // QEMU holds the disk open until it is gone: wait, so that the disk can be cloned or deleted.
    for (let i = 0; pid && i < 200 && (await readFile(`/proc/${pid}/stat`, 'utf8').then((s) => !/\) Z /.test(s), () => false)); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    await rm(this.dir(containerId), { recursive: true, force: true });
  }

  /** Drops the connections to the guests (the daemon stops); the VMs keep running without it. */
  close(): void {
    for (const id of [...this.channels.keys()]) this.closeChannel(id);
  }

  private async qmp(containerId: string, command: string): Promise<void> {
    const qmp = await Qmp.connect(join(this.dir(containerId), 'qmp.sock'));
    try {
      await qmp.execute(command);
    } finally {
      qmp.close();
    }
  }

  private channel(containerId: string): Promise<GuestChannel> {
    let channel = this.channels.get(containerId);
    if (!channel) {
      const connecting = GuestChannel.connect(join(this.dir(containerId), 'agent.sock'), 10_000);
      // A channel that failed to connect, or was lost later (QEMU went away), is not reused:
      // the next command connects afresh.
      const forget = () => {
        if (this.channels.get(containerId) === connecting) this.channels.delete(containerId);
      };
      connecting.then((c) => c.closed.then(forget), forget);
      this.channels.set(containerId, connecting);
      channel = connecting;
    }
    return channel;
  }

  private closeChannel(containerId: string): void {
    const channel = this.channels.get(containerId);
    this.channels.delete(containerId);
    void channel?.then((c) => c.close(), () => {});
  }
}
