// The guest kernel of `vm` sandboxes: Debian's cloud kernel, taken from its package without
// installing it on the host (the host's /boot and /lib/modules stay untouched). Extracted once
// per kernel version into the shared image cache, beside the images.
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../../util/run.js';
import { exists } from '../../util/exists.js';

/** The meta-package whose dependency names the current cloud kernel. */
const KERNEL_META_PACKAGE = 'linux-image-cloud-amd64';

export interface GuestKernel {
  /** e.g. 6.1.0-57-cloud-amd64 */
  version: string;
  /** The extracted package: boot/, lib/modules/<version>/ (with a modules.dep made by depmod). */
  root: string;
  vmlinuz: string;
  modulesDir: string;
}

export function kernelPaths(vmCache: string, version: string): GuestKernel {
  const root = join(vmCache, `linux-${version}`);
  return {
    version,
    root,
    vmlinuz: join(root, 'boot', `vmlinuz-${version}`),
    modulesDir: join(root, 'lib', 'modules', version),
  };
}

/** The version apt would install for the cloud kernel meta-package: `Depends: linux-image-<version>`. */
export function kernelVersionFrom(aptCacheDepends: string): string {
  const match = /^\s*Depends:\s*linux-image-(\S+)\s*$/m.exec(aptCacheDepends);
  if (!match) throw new Error(`cannot tell the cloud kernel's version from apt-cache: ${aptCacheDepends.trim().slice(0, 200)}`);
  return match[1]!;
}

export async function currentKernelVersion(): Promise<string> {
  const { stdout } = await run('apt-cache', ['depends', KERNEL_META_PACKAGE]);
  return kernelVersionFrom(stdout);
}

/**
 * Downloads and extracts the kernel package if this version is not in the cache yet. The tree is
 * built under a temporary name and renamed into place, so a crash leaves no half-extracted
 * kernel behind under the real name (only a `.partial-` directory the next build replaces).
 */
export async function ensureGuestKernel(vmCache: string, version: string, log: (line: string) => void = () => {}): Promise<GuestKernel> {
  const kernel = kernelPaths(vmCache, version);
  if (await exists(join(kernel.modulesDir, 'modules.dep'))) return kernel;
  await mkdir(vmCache, { recursive: true });
  const partial = `${kernel.root}.partial-${process.pid}`;
  await rm(partial, { recursive: true, force: true });
  await mkdir(partial, { recursive: true });
  try {
    const pkg = `linux-image-${version}`;
    log(`downloading ${pkg} for vm sandboxes`);
    await run('apt-get', ['download', pkg], { cwd: partial, timeoutMs: 600_000 });
    const debName = (await readdir(partial)).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
    if (!debName) throw new Error(`apt-get download ${pkg} left no .deb in ${partial}`);
    const deb = join(partial, debName);
    await run('dpkg-deb', ['-x', deb, partial]);
    await rm(deb);
    // The package leaves modules.dep to its postinst; depmod writes it into the extracted tree.
    await run('depmod', ['-b', partial, version]);
    await rename(partial, kernel.root).catch(async (e: NodeJS.ErrnoException) => {
      // Another process finished the same kernel first: theirs is as good as ours.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  return kernel;
}

export async function readModulesDep(kernel: GuestKernel): Promise<string> {
  return readFile(join(kernel.modulesDir, 'modules.dep'), 'utf8');
}
