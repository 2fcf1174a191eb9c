// Host prerequisites: the programs burrow drives. As root on Debian or Ubuntu, missing ones are
// installed with apt-get; anywhere else, the exact command to run is printed.
import { access, readFile } from 'node:fs/promises';
import type { BurrowConfig } from '../config.js';
import { describeVmAcceleration } from '../runtime/vm/acceleration.js';
import { run, succeeds } from '../util/run.js';

interface Requirement {
  program: string;
  /** Debian package that provides it. */
  pkg: string;
  why: string;
}

const REQUIREMENTS: Requirement[] = [
  { program: 'runsc', pkg: 'runsc', why: 'gVisor, the default sandbox runtime' },
  { program: 'runc', pkg: 'runc', why: 'the fast runtime option' },
  { program: 'btrfs', pkg: 'btrfs-progs', why: 'the storage pool' },
  { program: 'mkfs.btrfs', pkg: 'btrfs-progs', why: 'creating the storage pool' },
  { program: 'mmdebstrap', pkg: 'mmdebstrap', why: 'building images' },
  { program: 'ip', pkg: 'iproute2', why: 'network namespaces' },
  { program: 'nft', pkg: 'nftables', why: 'network isolation rules' },
  { program: 'nsenter', pkg: 'util-linux', why: 'configuring sandbox network namespaces' },
  { program: 'sysctl', pkg: 'procps', why: 'opening low ports and ping to user-namespaced sandboxes' },
  { program: 'python3', pkg: 'python3', why: 'idmapped mounts of images for user-namespaced runc sandboxes' },
  { program: 'mount', pkg: 'mount', why: 'overlay and loop mounts' },
  { program: 'tar', pkg: 'tar', why: 'importing images' },
  { program: 'zstd', pkg: 'zstd', why: 'importing OCI images with zstd-compressed layers' },
  { program: 'qemu-system-x86_64', pkg: 'qemu-system-x86', why: 'vm sandboxes (microVMs)' },
  { program: 'mkfs.ext4', pkg: 'e2fsprogs', why: 'the disks of vm sandboxes' },
  { program: 'busybox', pkg: 'busybox-static', why: 'the initramfs of vm sandboxes' },
  { program: 'depmod', pkg: 'kmod', why: 'the kernel modules of vm sandboxes' },
  { program: 'gcc', pkg: 'build-essential', why: 'the static bridge inside vm sandboxes' },
];

export interface DoctorReport {
  ok: boolean;
  problems: string[];
}

export async function doctor(
  config: BurrowConfig,
  opts: { fix: boolean; log?: (line: string) => void },
): Promise<DoctorReport> {
  const log = opts.log ?? (() => {});
  const problems: string[] = [];

  if (process.getuid?.() !== 0) problems.push('burrow must run as root (it manages mounts, namespaces and cgroups)');
  if (!(await kernelHas('overlay'))) problems.push('the kernel has no overlay filesystem (modprobe overlay)');

  let missing = await missingPackages();
  if (missing.length && opts.fix && process.getuid?.() === 0 && (await isDebianLike())) {
    log(`installing ${missing.join(' ')} with apt-get`);
    const env = { DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update', '-qq'], { env, timeoutMs: 600_000 });
    await run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env, timeoutMs: 1_800_000 });
    missing = await missingPackages();
  }
  if (missing.length) {
    problems.push(`missing packages: ${missing.join(' ')}; install them with: apt-get install -y ${missing.join(' ')}`);
  }
  log(await describeVmAcceleration(config.imageCache, { probe: opts.fix && !missing.length, log }));
  for (const p of problems) log(`problem: ${p}`);
  return { ok: problems.length === 0, problems };
}

async function missingPackages(): Promise<string[]> {
  const missing = new Set<string>();
  for (const r of REQUIREMENTS) {
    if (!(await onPath(r.program))) missing.add(r.pkg);
  }
  return [...missing];
}

async function onPath(program: string): Promise<boolean> {
  const dirs = (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin']);
  for (const dir of dirs) {
    if (await access(`${dir}/${program}`).then(() => true, () => false)) return true;
  }
  return false;
}

async function isDebianLike(): Promise<boolean> {
  const osRelease = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(osRelease) && (await succeeds('apt-get', ['--version']));
}

async function kernelHas(fs: string): Promise<boolean> {
  const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
  if (filesystems.split('\n').some((l) => l.trim().endsWith(fs))) return true;
  return succeeds('modprobe', [fs]);
}
