// One QEMU microVM: the command line burrow starts it with, and starting and stopping it. The
// microvm machine type has no PCI and no firmware to run: virtio devices sit on virtio-mmio
// (described to the kernel through ACPI), the kernel is loaded directly.
import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { viewSlotArgs } from './checkpoint-views.js';
import { AGENT_PORT_NAME, NET_KERNEL_ARG } from './initramfs.js';

export type Acceleration = 'kvm' | 'tcg';

export interface MachineSpec {
  accel: Acceleration;
  cpus: number;
  memoryMb: number;
  kernel: string;
  initramfs: string;
  /** The sandbox's ext4 image (raw), or none for a probe that only boots the kernel. */
  disk?: string;
  /** Empty read-only disks the guest's checkpoint views are later shown from (checkpoint-views.ts). */
  viewSlots?: number;
  /** The unix socket QEMU listens on for the bridge's virtio-serial port. */
  agentSocket?: string;
  /** The unix socket of QEMU's machine protocol (pause, resume, status); see qmp.ts. */
  qmpSocket?: string;
  /** The guest's serial console goes here: the kernel's messages and the initramfs's. */
  consoleLog: string;
  /** The host's TSC frequency (kHz); under TCG the guest reads the host's TSC (see tcgClockArgs). */
  tscKhz?: number;
  /** Extra kernel arguments: a sandbox's `panic=-1` (a panicked guest ends QEMU), the probe's `rdinit=`. */
  kernelArgs?: string[];
  /** The guest's network card, on a tap in the sandbox's namespace; none: the guest has no network. */
  network?: MachineNetwork;
  /**
   * The machine waits, paused, for the memory of an earlier one (machine-memory.ts) instead of
   * booting its kernel; its devices must be those of the machine the memory was saved from.
   */
  incoming?: boolean;
}

/** The sandbox's network as the guest joins it (network/machine-link.ts lays out the namespace). */
export interface MachineNetwork {
  /** The namespace QEMU runs in: the tap is only there. */
  netnsPath: string;
  tap: string;
  mac: string;
  /** The guest's eth0 takes this address; its default route and DNS are the gateway. */
  address: string;
  prefix: number;
  gateway: string;
}

/** `burrow.net=<address>/<prefix>,<gateway>`: the guest's address on the kernel command line. */
export function netKernelArg(network: Pick<MachineNetwork, 'address' | 'prefix' | 'gateway'>): string {
  return `${NET_KERNEL_ARG}=${guestNetValue(network)}`;
}

/** `<address>/<prefix>,<gateway>`; refuses anything but dotted quads (it is one word of -append). */
export function guestNetValue(network: Pick<MachineNetwork, 'address' | 'prefix' | 'gateway'>): string {
  const quad = /^\d{1,3}(\.\d{1,3}){3}$/;
  if (!quad.test(network.address) || !quad.test(network.gateway) || !(Number.isInteger(network.prefix) && network.prefix >= 0 && network.prefix <= 32)) {
    throw new Error(`not an IPv4 address/prefix and gateway: ${network.address}/${network.prefix}, ${network.gateway}`);
  }
  return `${network.address}/${network.prefix},${network.gateway}`;
}

export function qemuArgs(spec: MachineSpec): string[] {
  const accel =
    spec.accel === 'kvm'
      ? ['-accel', 'kvm', '-cpu', 'host']
      : // tb-size bounds TCG's translation cache (1 GiB by default), which fills as a long-lived
        // guest runs more code; right after boot QEMU is ~250 MiB resident with either setting.
        ['-accel', 'tcg,tb-size=128', '-cpu', 'max'];
  const kernelArgs = [
    'console=ttyS0',
    'quiet',
    ...(spec.accel === 'tcg' ? tcgClockArgs(spec.tscKhz) : []),
    ...(spec.network ? [netKernelArg(spec.network)] : []),
    ...(spec.kernelArgs ?? []),
  ];
  return [
    '-M',
    // pit/pic/rtc: the kernel calibrates its clocks against them at boot.
    'microvm,pit=on,pic=on,rtc=on',
    ...accel,
    '-m',
    `${spec.memoryMb}M`,
    '-smp',
    String(spec.cpus),
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    // The guest's poweroff or reboot ends QEMU (exit 0) instead of restarting the guest.
    '-no-reboot',
    '-serial',
    `file:${spec.consoleLog}`,
    '-kernel',
    spec.kernel,
    '-initrd',
    spec.initramfs,
    '-append',
    kernelArgs.join(' '),
    ...(spec.disk
      ? [
          '-drive',
          // discard=unmap: the guest's TRIM punches holes in the image file, so freed blocks go
          // back to the pool. cache=none: written data is in the file, not in QEMU, when a
          // checkpoint clones it.
          `id=root,file=${driveValue(spec.disk)},format=raw,if=none,discard=unmap,cache=none,aio=threads`,
          '-device',
          'virtio-blk-device,drive=root',
        ]
      : []),
    ...viewSlotArgs(spec.viewSlots ?? 0),
    ...(spec.qmpSocket ? ['-qmp', `unix:${driveValue(spec.qmpSocket)},server=on,wait=off`] : []),
    ...(spec.agentSocket
      ? [
          '-device',
          'virtio-serial-device',
          '-chardev',
          `socket,id=agent,path=${driveValue(spec.agentSocket)},server=on,wait=off`,
          '-device',
          `virtserialport,chardev=agent,name=${AGENT_PORT_NAME}`,
        ]
      : []),
    ...(spec.network
      ? [
          '-netdev',
          // script=no: the tap exists already, in its bridge; QEMU only opens it.
          `tap,id=net,ifname=${driveValue(spec.network.tap)},script=no,downscript=no`,
          '-device',
          `virtio-net-device,netdev=net,mac=${spec.network.mac}`,
        ]
      : []),
    ...(spec.incoming ? ['-S', '-incoming', 'defer'] : []),
  ];
}

/**
 * The program and arguments that start QEMU: inside the sandbox's namespace when the guest has
 * a network (nsenter execs QEMU, so the pid is QEMU's), else QEMU itself.
 */
export function qemuCommand(spec: MachineSpec): { file: string; args: string[] } {
  const qemu = ['qemu-system-x86_64', ...qemuArgs(spec)];
  const argv = spec.network ? ['nsenter', `--net=${spec.network.netnsPath}`, '--', ...qemu] : qemu;
  return { file: argv[0]!, args: argv.slice(1) };
}

/**
 * Under TCG the kernel's PIT calibration of the TSC fails (emulation is too slow for its timing
 * window) and the boot stalls for minutes; rdtsc under TCG reads the host's TSC, so the host's
 * frequency is the right answer to give it.
 */
function tcgClockArgs(tscKhz: number | undefined): string[] {
  return [...(tscKhz ? [`tsc_early_khz=${tscKhz}`] : []), 'tsc=reliable', 'no_timer_check'];
}

/** QEMU option values are comma-separated: a comma in a path is written twice. */
function driveValue(path: string): string {
  return path.replace(/,/g, ',,');
}

/** The host's TSC frequency from /proc/cpuinfo's `cpu MHz`, in kHz; undefined if it has none. */
export function tscKhzFrom(cpuinfo: string): number | undefined {
  const match = /^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo);
  return match ? Math.round(Number(match[1]) * 1000) : undefined;
}

export async function hostTscKhz(): Promise<number | undefined> {
  return tscKhzFrom(await readFile('/proc/cpuinfo', 'utf8').catch(() => ''));
}

export interface RunningMachine {
  pid: number;
  /** Resolves with QEMU's exit code (null when a signal ended it). */
  exited: Promise<number | null>;
}

/**
 * Starts QEMU in a process group of its own, detached from the daemon (a sandbox outlives a
 * daemon restart), its own output in `qemuLog`, in `workDir` (where its memory is saved and
 * read: see machine-memory.ts).
 */
export async function startMachine(spec: MachineSpec, qemuLog: string, workDir?: string): Promise<RunningMachine> {
  const log = await open(qemuLog, 'a');
  try {
    const { file, args } = qemuCommand(spec);
    const child = spawn(file, args, { detached: true, cwd: workDir, stdio: ['ignore', log.fd, log.fd] });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.on('error', reject);
      child.on('exit', (code) => resolve(code));
    });
    await new Promise<void>((resolve, reject) => {
      child.on('spawn', resolve);
      child.on('error', reject);
    });
    child.unref();
    return { pid: child.pid!, exited };
  } finally {
    await log.close();
  }
}

/** Kills QEMU's whole process group and waits for QEMU to be gone. */
export async function stopMachine(machine: RunningMachine): Promise<void> {
  try {
    process.kill(-machine.pid, 'SIGKILL');
  } catch {
    // already gone
  }
  await machine.exited.catch(() => null);
}
