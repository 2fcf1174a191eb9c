// The `vm` runtime: each sandbox a QEMU microVM with its own kernel (vm/), its disk an ext4
// image file in the sandbox's subvolume (storage/sandbox-disks.ts). It speaks the same verbs as
// the OCI runtimes and reads the same bundle (oci-bundle.ts), so that core/ drives it unchanged;
// commands are streamed through the guest's bridge (vm/guest-process.ts), and the host's sockets
// among the bundle's files (the in-sandbox API) are relayed to the guest (vm/guest-sockets.ts).
// Beyond the OCI runtimes it keeps a sandbox's memory (vm/machine-memory.ts): in a checkpoint,
// and while the sandbox is warm.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { Cgroup } from './cgroup.js';
import { VISIBLE_VIEWS, type CheckpointDisk, type ContainerState, type ProcessSpec, type SandboxRuntime } from './runtime.js';
import { GuestChannel } from './vm/guest-channel.js';
import { DEFAULT_PATH, MACHINE_NETWORK_ANNOTATION, PROCESS_CAP_VARIABLE } from './oci-bundle.js';
import { GuestProcess, runInGuest } from './vm/guest-process.js';
import type { OfferedSocket } from './vm/guest-sockets.js';
import { emptySlots, planViews, swapSlot, viewsCommand, type ViewSlot } from './vm/checkpoint-views.js';
import { GUEST_BUSYBOX, resumedGuestCommand } from './vm/initramfs.js';
import { discardMemory, loadMemory, saveMemory, takeSavedMemory } from './vm/machine-memory.js';
import { guestNetValue, startMachine, type Acceleration, type MachineNetwork } from './vm/machine.js';
import { Qmp } from './vm/qmp.js';
import type { VmAssets } from './vm/vm-assets.js';
import { exists } from '../util/exists.js';

/** A guest under TCG takes seconds to reach its bridge; under KVM well under one. */
const BOOT_TIMEOUT_MS = 120_000;
const MiB = 2 ** 20;
/** How long a guest about to be killed may take to put its writes on its disk. */
const SYNC_BEFORE_KILL_MS = 10_000;

/**
 * What QEMU itself needs beyond the guest's RAM (its own code and buffers, and under TCG the
 * translation cache, 128 MiB; see machine.ts): the host cgroup's memory limit is the guest's
 * RAM plus this, so that the guest, not QEMU, meets the limit.
 */
const QEMU_MEMORY_OVERHEAD_BYTES = 384 * MiB;
/** QEMU's host threads: one per vCPU, its main loop, and up to 64 I/O workers. */
const QEMU_HOST_TASKS = 256;

/** The sockets a machine's guest is offered, as saved in its folder for the next host connection. */
const OfferedSockets = z.array(z.object({ id: z.number().int().nonnegative(), guestPath: z.string(), hostPath: z.string(), mode: z.number().int() }));
export const OFFERED_SOCKETS_FILE = 'sockets.json';

/** What every VM of this host boots, and how: found out once, on the first boot. */
export interface VmHost {
  accel: Acceleration;
  assets: VmAssets;
  tscKhz: number | undefined;
}

interface VmRuntimeOptions {
  /** State directory private to this burrow instance: one folder per VM (sockets, pid, logs). */
  root: string;
  host: () => Promise<VmHost>;
}

/** What the VM is made of: the limits the OCI bundle gives its container, and its view slots. */
export interface MachineSize {
  cpus: number;
  memoryMb: number;
  /** Disks its checkpoint views are shown from (vm/checkpoint-views.ts). */
  viewSlots: number;
}

/** The bundle (see oci-bundle.ts) read as the description of a machine. */
export interface MachineBundle {
  /** The disk image file (the bundle's root). */
  disk: string;
  hostname: string;
  size: MachineSize;
  /** The CPU share (may be fractional), for the cgroup. */
  cpuShare: number;
  cgroupsPath: string;
  /** The sandbox's network as the guest joins it; none: the guest has no network card. */
  network: MachineNetwork | undefined;
  /** Host files (or directories of files) copied in at boot, by their path inside. */
  files: Array<{ destination: string; source: string }>;
  /** Each user's process cap in the guest (pids_limit), for its PID 1; none: no cap. */
  processCap: number | undefined;
}

interface OciConfigShape {
  hostname?: string;
  process?: { env?: string[] };
  annotations?: Record<string, string>;
  root?: { path?: string };
  mounts?: Array<{ destination: string; type: string; source: string; options?: string[] }>;
  linux?: {
    cgroupsPath?: string;
    namespaces?: Array<{ type: string; path?: string }>;
    resources?: { memory?: { limit?: number }; cpu?: { quota?: number; period?: number } };
  };
}

export function machineBundleOf(ociConfig: unknown): MachineBundle {
  const config = ociConfig as OciConfigShape;
  const resources = config.linux?.resources;
  const memory = resources?.memory?.limit;
  const quota = resources?.cpu?.quota;
  const period = resources?.cpu?.period;
  const cpuShare = quota && period && quota > 0 ? quota / period : 1;
  if (!config.root?.path || !config.linux?.cgroupsPath) throw new Error('the bundle names no disk or no cgroup');
  return {
    disk: config.root.path,
    hostname: config.hostname ?? 'sandbox',
    // A fractional CPU limit still needs one vCPU; the cgroup holds QEMU to the fraction.
    size: { cpus: Math.max(1, Math.ceil(cpuShare)), memoryMb: memory && memory > 0 ? Math.max(128, Math.floor(memory / MiB)) : 512, viewSlots: VISIBLE_VIEWS },
    cpuShare,
    cgroupsPath: config.linux.cgroupsPath,
    network: machineNetworkOf(config),
    // The read-only binds are the host's files for the sandbox; /proc, /dev and friends are the
    // guest kernel's own.
    files: (config.mounts ?? [])
      .filter((m) => m.type === 'bind' && m.options?.includes('ro'))
      .map((m) => ({ destination: m.destination, source: m.source })),
    processCap: processCapOf(config),
  };
}

/** PID 1's process cap as the bundle gives a container's (see PROCESS_CAP_VARIABLE). */
function processCapOf(config: OciConfigShape): number | undefined {
  const value = config.process?.env?.find((e) => e.startsWith(`${PROCESS_CAP_VARIABLE}=`))?.slice(PROCESS_CAP_VARIABLE.length + 1);
  return value && /^\d{1,9}$/.test(value) ? Number(value) : undefined;
}

/** The guest's link (see network/machine-link.ts), in the sandbox's network namespace. */
function machineNetworkOf(config: OciConfigShape): MachineNetwork | undefined {
  const netnsPath = config.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  const link = config.annotations?.[MACHINE_NETWORK_ANNOTATION];
  if (!netnsPath || !link) return undefined;
  const { tap, mac, address, prefix, gateway } = JSON.parse(link) as Omit<MachineNetwork, 'netnsPath'>;
  return { netnsPath, tap, mac, address, prefix, gateway };
}

/** What the host runs in the guest itself, as its root. */
function asRoot(args: string[]): ProcessSpec {
  return { args, env: [`PATH=${DEFAULT_PATH}`], cwd: '/', uid: 0, gid: 0 };
}

/** Set on a paused machine whose host files changed: its resume copies them in. */
const FILES_STALE = 'files-stale';
/** The checkpoints a paused machine is to show when it runs again. */
const VIEWS_WANTED_FILE = 'views-wanted.json';
/** What the machine's view slots hold (see vm/checkpoint-views.ts). */
const VIEW_SLOTS_FILE = 'view-slots.json';

/** Set while the guest's root may be frozen (freezeFilesystem): what thawFilesystem undoes. */
const FILESYSTEM_FROZEN = 'filesystem-frozen';
/** Freezes the guest's root with the busybox at $1; syncs if there is none. */
const FREEZE_ROOT = 'if [ -x "$1" ]; then exec "$1" fsfreeze --freeze /; else exec sync; fi';

/** Removes the regular files directly in $1 but those named $2...; dot files are left alone. */
const KEEP_ONLY = 'dir=$1; shift; cd "$dir" 2>/dev/null || exit 0; for f in *; do [ -f "$f" ] || continue; keep=; for k in "$@"; do [ "$f" = "$k" ] && keep=1; done; [ -n "$keep" ] || rm -f -- "$f"; done';

/** Writes stdin to $1 (parents made) with mode $2, replacing what was there in one rename. */
const WRITE_FILE = 'set -e; mkdir -p "${1%/*}"; cat > "$1.burrow-new"; chmod "$2" "$1.burrow-new"; mv -f "$1.burrow-new" "$1"';

export class VmRuntime implements SandboxRuntime {
  readonly kind = 'vm' as const;
  readonly ownKernel = true;
  readonly ownNetworkStack = true;
  private readonly channels = new Map<string, Promise<GuestChannel>>();
  /** Known from the first boot on (the host's answer is probed once and remembered). */
  private accel: Acceleration | undefined;

  constructor(private readonly opts: VmRuntimeOptions) {}

  get isolation(): string {
    const boundary =
      this.accel === 'kvm'
        ? 'under KVM: a hardware virtualisation boundary'
        : this.accel === 'tcg'
          ? 'under TCG: software emulation, slow'
          : 'under KVM where the host has it, else software emulation';
    return `vm: a QEMU microVM with its own Linux kernel, ${boundary}; the host kernel is not exposed to the sandbox`;
  }

  private dir(containerId: string): string {
    return join(this.opts.root, containerId);
  }

  /**
   * Boots the machine the bundle describes: QEMU in the sandbox's network namespace and in the
   * container's cgroup (so metering, limits and the freezer see it as they see a container),
   * then, once the guest's bridge answers, the sandbox's files copied in and its filesystem
   * grown to its disk. A disk with memory saved beside it (a memory checkpoint's, a warm
   * sandbox's) is not booted but resumed: its guest goes on where it was, on this sandbox's
   * network.
   */
  async start(containerId: string, bundleDir: string): Promise<void> {
    const bundle = machineBundleOf(JSON.parse(await readFile(join(bundleDir, 'config.json'), 'utf8')));
    const host = await this.opts.host();
    this.accel = host.accel;
    const dir = this.dir(containerId);
    await mkdir(dir, { recursive: true });
    // What the machine's last boot was offered is not this boot's: start() offers once the guest is ready.
    await rm(join(dir, OFFERED_SOCKETS_FILE), { force: true });
    await writeFile(join(dir, 'cgroup'), bundle.cgroupsPath);
    await writeFile(join(dir, 'disk'), bundle.disk);
    await writeFile(join(dir, 'files.json'), JSON.stringify(bundle.files));
    const diskFolder = dirname(bundle.disk);
    // Memory saved with the disk (a checkpoint's, a warm machine's) is resumed on a machine of its own size.
    const memory = await takeSavedMemory(diskFolder, bundle.disk);
    const size: MachineSize = memory ? { cpus: memory.cpus, memoryMb: memory.memoryMb, viewSlots: memory.viewSlots } : bundle.size;
    await writeFile(join(dir, 'size'), JSON.stringify(size));
    await this.saveSlots(containerId, emptySlots(size.viewSlots));
    const machine = await startMachine(
      {
        accel: host.accel,
        ...size,
        incoming: memory !== null,
        kernel: host.assets.kernel,
        initramfs: host.assets.initramfs,
        disk: bundle.disk,
        agentSocket: join(dir, 'agent.sock'),
        qmpSocket: join(dir, 'qmp.sock'),
        consoleLog: join(dir, 'console.log'),
        tscKhz: host.tscKhz,
        // The kernel hands an argument it does not know to init as a variable: PID 1's cap.
        kernelArgs: ['panic=-1', ...(bundle.processCap ? [`${PROCESS_CAP_VARIABLE}=${bundle.processCap}`] : [])],
        network: bundle.network,
      },
      join(dir, 'qemu.log'),
      diskFolder,
    );
    await writeFile(join(dir, 'pid'), `${machine.pid}\n`);
    try {
      await new Cgroup(bundle.cgroupsPath).enter(machine.pid, {
        cpus: bundle.cpuShare,
        memoryBytes: size.memoryMb * MiB + QEMU_MEMORY_OVERHEAD_BYTES,
        tasks: QEMU_HOST_TASKS,
      });
      if (memory) {
        const qmp = await Qmp.connect(join(dir, 'qmp.sock'), BOOT_TIMEOUT_MS);
        try {
          await loadMemory(qmp, diskFolder);
          await qmp.execute('cont');
        } finally {
          qmp.close();
        }
        // The guest's bridge serves already: it said it was ready long ago, to another host.
        await this.resumeGuest(containerId, bundle);
      } else {
        await (await this.channel(containerId)).ready(BOOT_TIMEOUT_MS);
      }
      const channel = await this.channel(containerId);
      const sockets = await socketsOf(bundle.files);
      await this.prepareGuest(containerId, bundle, sockets);
      // Saved first: a channel that connects later (a new daemon) offers them again.
      await writeFile(join(dir, OFFERED_SOCKETS_FILE), JSON.stringify(sockets));
      channel.offer(sockets);
    } catch (e) {
      const console = (await readFile(join(dir, 'console.log'), 'utf8').catch(() => '')).trim().split('\n').slice(-5).join(' | ');
      await this.remove(containerId).catch(() => {}); // the reconciler deletes what is left
      throw new Error(`vm ${containerId} did not boot: ${(e as Error).message}${console ? `; its console: ${console}` : ''}`);
    }
  }

  /**
   * What a container gets from its bundle, given to the guest: its hostname, the host's files
   * (hosts, resolv.conf, tools, policy…) as they are at boot, and a filesystem as large as its
   * disk (grown online by the guest's own resize2fs; an image without one keeps its size), and
   * the folders of the sockets it will be offered.
   */
  private async prepareGuest(containerId: string, bundle: MachineBundle, sockets: readonly OfferedSocket[]): Promise<void> {
    await this.inGuest(containerId, ['/bin/sh', '-c', 'printf %s "$1" > /proc/sys/kernel/hostname', 'sh', bundle.hostname]);
    await this.copyFiles(containerId, bundle.files);
    const socketDirs = [...new Set(sockets.map((s) => dirname(s.guestPath)))];
    if (socketDirs.length) await this.inGuest(containerId, ['mkdir', '-p', '--', ...socketDirs]);
    await this.inGuest(containerId, ['resize2fs', '/dev/vda'], { okCodes: [0, 127] });
  }

  /** One of the host's own commands, run in the guest as root; rejects unless it exits with one of `okCodes`. */
  private async inGuest(containerId: string, args: string[], opts: { input?: Uint8Array; okCodes?: number[] } = {}): Promise<void> {
    const result = await runInGuest(this.channel(containerId), asRoot(args), opts.input);
    if (!(opts.okCodes ?? [0]).includes(result.code)) {
      throw new Error(`${args.slice(0, 3).join(' ')} exited ${result.code} in the guest: ${result.stderr.trim().slice(-300)}`);
    }
  }

  /**
   * The host's files of the bundle, copied into the guest as they are now; what a directory of
   * them no longer holds (a revoked placeholder) goes from the guest's copy too.
   */
  private async copyFiles(containerId: string, files: MachineBundle['files']): Promise<void> {
    for (const { destination, source } of files) {
      const { kind, files: copies } = await filesOf(source, destination);
      for (const file of copies) {
        const args = ['/bin/sh', '-c', WRITE_FILE, 'sh', file.destination, file.mode.toString(8)];
        await this.inGuest(containerId, args, { input: await readFile(file.source) });
      }
      if (kind === 'directory') await this.inGuest(containerId, ['/bin/sh', '-c', KEEP_ONLY, 'sh', destination, ...copies.map((f) => basename(f.destination))]);
    }
  }

  /**
   * Copies the bundle's host files into the running guest again (they changed: a grant); a
   * paused one gets them when it is resumed.
   */
  async copyFilesIn(containerId: string): Promise<void> {
    const dir = this.dir(containerId);
    if ((await this.state(containerId)) === 'paused') return writeFile(join(dir, FILES_STALE), '');
    const files = JSON.parse(await readFile(join(dir, 'files.json'), 'utf8')) as MachineBundle['files'];
    await this.copyFiles(containerId, files);
  }

  /**
   * A guest resumed from saved memory wakes where it was: on the network of the machine it was
   * saved from (a fork's source), with the clock of that moment. It is given this sandbox's.
   */
  private async resumeGuest(containerId: string, bundle: MachineBundle): Promise<void> {
    const args = resumedGuestCommand(bundle.network ? guestNetValue(bundle.network) : '', Math.floor(Date.now() / 1000));
    await this.inGuest(containerId, args).catch((e: Error) => {
      throw new Error(`the resumed guest did not take its network: ${e.message}`);
    });
  }

  /**
   * Shows `checkpoints` at VIEWS_INSIDE in the guest (see vm/checkpoint-views.ts): the guest
   * first lets go of the views that change (and of any its memory brought from another machine),
   * then the host swaps the disks under their slots, then the guest mounts them. A paused
   * machine is shown them when it runs again, a stopped one at its next boot.
   */
  async showCheckpoints(containerId: string, checkpoints: CheckpointDisk[]): Promise<void> {
    const dir = this.dir(containerId);
    const state = await this.state(containerId);
    if (state === 'paused') return writeFile(join(dir, VIEWS_WANTED_FILE), JSON.stringify(checkpoints));
    if (state !== 'running') return; // its next boot is shown its views
    const slots = await this.slots(containerId);
    const plan = planViews(slots, checkpoints);
    await this.inGuest(containerId, viewsCommand(plan.map((view, i) => (view === slots[i]!.view ? view : null))));
    const qmp = await Qmp.connect(join(dir, 'qmp.sock'));
    try {
      for (const [i, view] of plan.entries()) {
        if (view === slots[i]!.view) continue;
        slots[i] = await swapSlot(qmp, i, slots[i]!, view);
        await this.saveSlots(containerId, slots);
      }
    } finally {
      qmp.close();
    }
    await this.inGuest(containerId, viewsCommand(plan));
  }

  /** The machine's view slots as the host last set them; none for a machine older than them. */
  private async slots(containerId: string): Promise<ViewSlot[]> {
    return JSON.parse(await readFile(join(this.dir(containerId), VIEW_SLOTS_FILE), 'utf8').catch(() => '[]')) as ViewSlot[];
  }

  private async saveSlots(containerId: string, slots: ViewSlot[]): Promise<void> {
    await writeFile(join(this.dir(containerId), VIEW_SLOTS_FILE), JSON.stringify(slots));
  }

  /**
   * FIFREEZE on the guest's root, by the busybox its init left (the disk's own tools may lack
   * fsfreeze): its journal applied and every writer held until thawFilesystem. A guest without
   * it (booted before it had it) syncs instead.
   */
  async freezeFilesystem(containerId: string): Promise<void> {
    // Noted first: a daemon that dies with the guest frozen leaves the note for thawFilesystem.
    await writeFile(join(this.dir(containerId), FILESYSTEM_FROZEN), '');
    await this.inGuest(containerId, ['/bin/sh', '-c', FREEZE_ROOT, 'sh', GUEST_BUSYBOX]);
  }

  /**
   * Ends freezeFilesystem's hold. A paused machine (a daemon died while its memory was saved for
   * a checkpoint) is thawed when it runs again (resume).
   */
  async thawFilesystem(containerId: string): Promise<void> {
    const note = join(this.dir(containerId), FILESYSTEM_FROZEN);
    if (!(await exists(note)) || (await this.state(containerId)) !== 'running') return;
    await this.inGuest(containerId, [GUEST_BUSYBOX, 'fsfreeze', '--unfreeze', '/'], { okCodes: [0, 1] });
    await rm(note);
  }

  /**
   * Writes the running machine's memory beside its disk (see vm/machine-memory.ts), where a
   * checkpoint of the disk takes it along and the disk's next start resumes it; the machine is
   * left paused.
   */
  async saveMemory(containerId: string): Promise<void> {
    const dir = this.dir(containerId);
    const disk = await readFile(join(dir, 'disk'), 'utf8');
    const size = JSON.parse(await readFile(join(dir, 'size'), 'utf8')) as MachineSize;
    const qmp = await Qmp.connect(join(dir, 'qmp.sock'));
    try {
      // QEMU saves a machine's memory once per pause: one saved before (and then discarded) runs on first.
      if ((await qmp.status()) === 'postmigrate') await qmp.execute('cont');
      await saveMemory(qmp, dirname(disk), disk, size);
    } finally {
      qmp.close();
    }
  }

  /** Removes the memory saveMemory wrote beside the disk (the checkpoint holds it now). */
  async discardMemory(containerId: string): Promise<void> {
    const disk = await readFile(join(this.dir(containerId), 'disk'), 'utf8').catch(() => null);
    if (disk) await discardMemory(dirname(disk));
  }

  async state(containerId: string): Promise<ContainerState> {
    if (!(await this.hostPid(containerId))) return 'missing';
    const qmp = await Qmp.connect(join(this.dir(containerId), 'qmp.sock')).catch(() => null);
    if (!qmp) return 'stopped';
    try {
      const state = containerStateOf(await qmp.status());
      // A new daemon first asks after its machines here: connecting re-offers their sockets.
      void this.channel(containerId).catch(() => {});
      return state;
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

  /**
   * Pauses the machine and saves its memory beside its disk, so that a warm sandbox outlives its
   * machine (a host reboot): its next start resumes the memory (see vm/machine-memory.ts).
   */
  async pause(containerId: string): Promise<void> {
    await this.qmp(containerId, 'stop');
    // A machine whose memory cannot be written (a full pool) is warm all the same, in RAM only.
    await this.saveMemory(containerId).catch(() => this.discardMemory(containerId));
  }

  /**
   * Runs the machine on. The memory saved with it is stale from then on: it goes first. Host
   * files that changed while it was paused are copied in.
   */
  async resume(containerId: string): Promise<void> {
    await this.discardMemory(containerId);
    await this.qmp(containerId, 'cont');
    await this.thawFilesystem(containerId);
    const stale = join(this.dir(containerId), FILES_STALE);
    if (await exists(stale)) {
      await rm(stale);
      await this.copyFilesIn(containerId);
    }
    const wanted = await readFile(join(this.dir(containerId), VIEWS_WANTED_FILE), 'utf8').catch(() => null);
    if (wanted !== null) {
      await rm(join(this.dir(containerId), VIEWS_WANTED_FILE));
      await this.showCheckpoints(containerId, JSON.parse(wanted) as CheckpointDisk[]);
    }
  }

  /**
   * Ends the machine. What the guest wrote but its kernel has not yet put on the disk (ext4
   * commits every 5 s) would die with it, where a container's writes are in the host's page
   * cache already: so a guest that answers syncs first (a paused one is resumed for it), for
   * at most SYNC_BEFORE_KILL_MS. One that does not answer is killed all the same. The memory a
   * warm machine saved goes with it: what ends a machine (a cold sleep, a restart, a restore)
   * wants the next start to boot. That of a machine already gone (a host reboot) stays, for the
   * next start to resume.
   */
  async kill(containerId: string): Promise<void> {
    const pid = await this.hostPid(containerId);
    if (pid) {
      await this.syncGuest(containerId).catch(() => {});
      await this.discardMemory(containerId);
    }
    this.closeChannel(containerId);
    if (!pid) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }

  private async syncGuest(containerId: string): Promise<void> {
    if ((await this.state(containerId)) === 'paused') await this.resume(containerId);
    await this.run(containerId, asRoot(['sync']), SYNC_BEFORE_KILL_MS);
  }

  async remove(containerId: string): Promise<void> {
    const pid = await this.hostPid(containerId);
    await this.kill(containerId);
    // QEMU holds the disk open until it is gone: wait, so that the disk can be cloned or deleted.
    for (let i = 0; pid && i < 200 && (await readFile(`/proc/${pid}/stat`, 'utf8').then((s) => !/\) Z /.test(s), () => false)); i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    const cgroupsPath = await readFile(join(this.dir(containerId), 'cgroup'), 'utf8').catch(() => '');
    if (cgroupsPath) await new Cgroup(cgroupsPath).remove();
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
      connecting.then((c) => {
        void c.closed.then(forget);
        void this.offerSaved(containerId, c);
      }, forget);
      this.channels.set(containerId, connecting);
      channel = connecting;
    }
    return channel;
  }

  /** Offers the guest the sockets saved at boot (none yet while it boots: start() offers them). */
  private async offerSaved(containerId: string, channel: GuestChannel): Promise<void> {
    const saved = await readFile(join(this.dir(containerId), OFFERED_SOCKETS_FILE), 'utf8').catch(() => null);
    if (saved === null) return;
    try {
      channel.offer(OfferedSockets.parse(JSON.parse(saved)));
    } catch {
      // A channel lost meanwhile offers nothing (the next one offers again); a file cut short by
      // a crash while the machine booted offers nothing either (its next boot offers afresh).
    }
  }

  private closeChannel(containerId: string): void {
    const channel = this.channels.get(containerId);
    this.channels.delete(containerId);
    void channel?.then((c) => c.close(), () => {});
  }
}

/**
 * QEMU's run state as a container's: a machine that holds its guest still (paused by burrow,
 * after saving its memory, while loading memory) is paused; one whose guest ended or broke is stopped.
 */
export function containerStateOf(qemuStatus: string): ContainerState {
  if (qemuStatus === 'running') return 'running';
  if (['paused', 'postmigrate', 'prelaunch', 'inmigrate', 'finish-migrate', 'suspended'].includes(qemuStatus)) return 'paused';
  return 'stopped';
}

/** Host files to copy in, and whether their source was one file, a directory of them, or nothing to copy. */
interface HostFiles {
  kind: 'file' | 'directory' | 'none';
  files: Array<{ source: string; destination: string; mode: number }>;
}

/**
 * The regular files a bundle's bind source stands for: itself, or those directly in it (a
 * directory of policy or secret files). Anything else (a socket) has no copy in a VM.
 */
async function filesOf(source: string, destination: string): Promise<HostFiles> {
  const info = await stat(source).catch(() => null);
  if (info?.isFile()) return { kind: 'file', files: [{ source, destination, mode: info.mode & 0o777 }] };
  if (!info?.isDirectory()) return { kind: 'none', files: [] };
  const files: HostFiles['files'] = [];
  for (const entry of await readdir(source, { withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(source, entry.name);
    files.push({ source: path, destination: `${destination}/${entry.name}`, mode: (await stat(path)).mode & 0o777 });
  }
  return { kind: 'directory', files };
}

/**
 * The host's unix sockets directly in a bundle's bind source folders (the in-sandbox API's),
 * each offered in the guest at the same path inside.
 */
async function socketsOf(files: MachineBundle['files']): Promise<OfferedSocket[]> {
  const sockets: OfferedSocket[] = [];
  for (const { source, destination } of files) {
    const entries = await readdir(source, { withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      if (!entry.isSocket()) continue;
      const hostPath = join(source, entry.name);
      const info = await stat(hostPath).catch(() => null);
      if (info) sockets.push({ id: sockets.length + 1, guestPath: `${destination}/${entry.name}`, hostPath, mode: info.mode & 0o777 });
    }
  }
  return sockets;
}
