// What every `vm` sandbox boots: the guest kernel and the initramfs, kept under `vm/` in the
// shared image cache (keyed by kernel version, and the initramfs also by its recipe).
import { join } from 'node:path';
import { currentKernelVersion, ensureGuestKernel } from './guest-kernel.js';
import { ensureInitramfs } from './initramfs.js';

export interface VmAssets {
  kernelVersion: string;
  kernel: string;
  initramfs: string;
}

export function vmCacheDir(imageCache: string): string {
  return join(imageCache, 'vm');
}

export async function ensureVmAssets(imageCache: string, log: (line: string) => void = () => {}): Promise<VmAssets> {
  const kernel = await ensureGuestKernel(vmCacheDir(imageCache), await currentKernelVersion(), log);
  return { kernelVersion: kernel.version, kernel: kernel.vmlinuz, initramfs: await ensureInitramfs(kernel, log) };
}
