// The OCI bundle (config.json) of a sandbox. gVisor and runc run the same bundle; runc gets the
// hardening Docker applies by default, because with runc the host kernel is the only boundary.
// The `vm` runtime reads the same bundle as the description of a machine: its root is a disk
// image file, its limits size the VM, its read-only files are copied in (runtime/vm-runtime.ts).
import type { RuntimeKind } from '../config.js';
import { AGENT } from './agent.js';

/** What the sandbox's root is: a directory (containers) or a disk image file (`vm`). */
export interface BundleRoot {
  rootfs: string;
  /**
   * The host directory bound at `/tmp`: the sandbox's own, on its disk (see SandboxDisks.tmpDir).
   * None for a VM, whose /tmp is on its disk already.
   */
  tmpDir?: string;
}

export interface BundleSpec extends BundleRoot {
  runtime: RuntimeKind;
  hostname: string;
  netnsPath: string;
  cgroupsPath: string;
  cpus: number;
  ramMb: number;
  pidsLimit: number;
  /** No process may gain privileges (set-user-ID, file capabilities): the real sudo fails. */
  noNewPrivileges?: boolean;
  /** A user namespace of its own: ids 0..size-1 inside are base..base+size-1 on the host. */
  idMapping?: { base: number; size: number };
  /** Host files bind-mounted read-only over the image's, keyed by their path inside. */
  files: Record<string, string>;
  /** A VM's network card: its tap in the sandbox's namespace, MAC and address. */
  machineNetwork?: { tap: string; mac: string; address: string; prefix: number; gateway: string };
}

/** Where a `vm` bundle carries the guest's link (runtime/vm-runtime.ts reads it). */
export const MACHINE_NETWORK_ANNOTATION = 'dev.burrow.machine-network';

/** PID 1's variable for pids_limit where the sandbox's own kernel enforces it (image/burrow-agent.c). */
export const PROCESS_CAP_VARIABLE = 'BURROW_NPROC';
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * Host tasks gVisor's ptrace platform may run per process inside: its kernel's threads each keep
 * a stub thread in every address space they ran (measured: 106 processes inside took 1,115 host
 * tasks, 244 took 3,448). A runtime refused a task by the pids cgroup dies, and every process
 * inside with it, so its host limit is this many times the sandbox's.
 */
const GVISOR_HOST_TASKS_PER_PROCESS = 16;

/** The host tasks a sandbox may have: its own processes under runc, its runtime's under gVisor. */
export function hostTaskLimit(runtime: RuntimeKind, pidsLimit: number): number {
  return runtime === 'gvisor' ? pidsLimit * GVISOR_HOST_TASKS_PER_PROCESS : pidsLimit;
}

/** PID 1 reaps orphans, keeps the sandbox up with no user process, and launches commands. */
const INIT = [AGENT, 'init'];

/** Docker's default capability set. */
const CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW',
  'CAP_SETGID', 'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Docker's masked and read-only /proc and /sys paths. */
const MASKED_PATHS = [
  '/proc/asound', '/proc/acpi', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi',
  '/sys/firmware', '/sys/devices/virtual/powercap',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/**
 * The system calls Docker's default profile refuses to a container without CAP_SYS_ADMIN and
 * friends: kernel modules, mounts, namespaces, keyrings, clocks, tracing, BPF, reboot and swap.
 */
const DENIED_SYSCALLS = [
  'acct', 'add_key', 'bpf', 'clock_adjtime', 'clock_settime', 'create_module', 'delete_module',
  'finit_module', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'get_kernel_syms', 'get_mempolicy',
  'init_module', 'ioperm', 'iopl', 'kcmp', 'kexec_file_load', 'kexec_load', 'keyctl',
  'lookup_dcookie', 'mbind', 'mount', 'mount_setattr', 'move_mount', 'move_pages',
  'name_to_handle_at', 'nfsservctl', 'open_by_handle_at', 'open_tree', 'perf_event_open',
  'pivot_root', 'process_vm_readv', 'process_vm_writev', 'ptrace', 'query_module', 'quotactl',
  'reboot', 'request_key', 'set_mempolicy', 'setns', 'settimeofday', 'stime', 'swapoff', 'swapon',
  'syslog', 'umount', 'umount2', 'unshare', 'uselib', 'userfaultfd', 'ustat', 'vm86', 'vm86old',
  // io_uring reaches kernel code that most of its exploits came through (Docker refuses it too).
  'io_uring_setup', 'io_uring_enter', 'io_uring_register',
  // Also refused by Docker's current default profile to a container without CAP_SYS_ADMIN,
  // CAP_SYS_PTRACE or CAP_SYS_TTY_CONFIG.
  '_sysctl', 'sysfs', 'quotactl_fd', 'fanotify_init', 'pidfd_getfd', 'vhangup',
];
const EPERM = 1;
const ENOSYS = 38;
/** CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET: clone may not make namespaces. */
const CLONE_NAMESPACE_FLAGS = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000];

function seccompProfile() {
  return {
    defaultAction: 'SCMP_ACT_ALLOW',
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
    syscalls: [
      { names: DENIED_SYSCALLS, action: 'SCMP_ACT_ERRNO', errnoRet: EPERM },
      // One rule per flag (rules for one syscall are ORed): deny when (flags & FLAG) == FLAG.
      ...CLONE_NAMESPACE_FLAGS.map((flag) => ({
        names: ['clone'],
        action: 'SCMP_ACT_ERRNO',
        errnoRet: EPERM,
        args: [{ index: 0, value: flag, valueTwo: flag, op: 'SCMP_CMP_MASKED_EQ' }],
      })),
      // clone3 hides its flags in memory where seccomp cannot look; ENOSYS makes libc use clone.
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS },
    ],
  };
}

/** The size of a sandbox's /dev/shm: half its RAM limit. */
function shmSizeKib(ramMb: number): number {
  return Math.floor((ramMb * 1024) / 2);
}

/**
 * sysfs may only be mounted by the user namespace that owns the network namespace, and the
 * sandbox's network namespace belongs to the host's: a user-namespaced sandbox gets the host's
 * /sys read-only instead, as Docker does in the same case.
 */
const SYSFS = { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] };
/** What the host's /sys carries beyond a fresh sysfs: its cgroups, debug and security files. */
const HOST_SYSFS_MASKED = ['/sys/fs/cgroup', '/sys/kernel/debug', '/sys/kernel/security', '/sys/kernel/tracing', '/sys/fs/bpf'];
const SYSFS_BOUND = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };

export function bundleConfig(spec: BundleSpec): object {
  const hardened = spec.runtime === 'runc';
  const caps = { bounding: CAPABILITIES, effective: CAPABILITIES, permitted: CAPABILITIES };
  const ids = spec.idMapping && [{ containerID: 0, hostID: spec.idMapping.base, size: spec.idMapping.size }];
  return {
    ociVersion: '1.0.2',
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: INIT,
      // Under gVisor and in a VM, pids_limit caps each user's processes inside, in its own
      // kernel (see image/burrow-agent.c), and the host's limit is its runtime's.
      env: [`PATH=${DEFAULT_PATH}`, ...(hardened ? [] : [`${PROCESS_CAP_VARIABLE}=${spec.pidsLimit}`])],
      cwd: '/',
      capabilities: caps,
      // sudo inside the sandbox is part of the product, unless its privileges policy says otherwise.
      noNewPrivileges: spec.noNewPrivileges ?? false,
    },
    root: { path: spec.rootfs, readonly: false },
    hostname: spec.hostname,
    ...(spec.machineNetwork ? { annotations: { [MACHINE_NETWORK_ANNOTATION]: JSON.stringify(spec.machineNetwork) } } : {}),
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
      // Half the RAM, as a VM's /dev/shm gets: shared memory counts against the memory limit anyway.
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', `size=${shmSizeKib(spec.ramMb)}k`] },
      ids ? SYSFS_BOUND : SYSFS,
      // Without a mount at /tmp, runsc mounts a tmpfs there: lost at every stop, restore and
      // cold sleep, absent from checkpoints, held in RAM. The disk's own /tmp keeps it all.
      ...(spec.tmpDir ? [{ destination: '/tmp', type: 'bind', source: spec.tmpDir, options: ['rbind', 'rw'] }] : []),
      ...Object.entries(spec.files).map(([destination, source]) => ({
        destination,
        type: 'bind',
        source,
        options: ['rbind', 'ro'],
      })),
    ],
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'mount' },
        // runc runs inside the sandbox's network namespace instead of joining it: `runc exec`
        // joins a user namespace first, and from inside it may not join a network namespace
        // that the host's user namespace owns.
        ...(hardened ? [] : [{ type: 'network', path: spec.netnsPath }]),
        ...(ids ? [{ type: 'user' }] : []),
      ],
      ...(ids ? { uidMappings: ids, gidMappings: ids } : {}),
      cgroupsPath: spec.cgroupsPath,
      resources: {
        memory: { limit: spec.ramMb * 1024 * 1024 },
        cpu: { quota: Math.round(spec.cpus * 100_000), period: 100_000 },
        pids: { limit: hostTaskLimit(spec.runtime, spec.pidsLimit) },
      },
      ...(hardened
        ? { seccomp: seccompProfile(), maskedPaths: ids ? [...MASKED_PATHS, ...HOST_SYSFS_MASKED] : MASKED_PATHS, readonlyPaths: READONLY_PATHS }
        : {}),
    },
  };
}
