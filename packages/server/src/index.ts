// The server package's public entry: what the CLI's host-local commands call.
import type { BurrowConfig, ImageName } from './config.js';
import { ensureVmAssets } from './runtime/vm/vm-assets.js';
import { DiskImages, diskLayout } from './storage/disk-images.js';
import { ImageStore, type ImageInfo } from './storage/images.js';
import { ensurePool } from './storage/pool.js';

export { loadConfig, type BurrowConfig } from './config.js';
export { serve, type RunningServer } from './serve.js';
export { doctor, type DoctorReport } from './host/doctor.js';

/**
 * Builds an image (if it is not built yet). With `vm` (the default when vm is the default
 * runtime) it also makes what `vm` sandboxes boot from it: the image's disk, and the guest
 * kernel and initramfs; otherwise the first vm sandbox of the image makes them.
 */
export async function buildImage(
  config: BurrowConfig,
  name: ImageName,
  onProgress: (line: string) => void = () => {},
  opts: { refresh?: boolean; vm?: boolean } = {},
): Promise<{ name: string; id: string; built: boolean; machineDisk?: string }> {
  const pool = await ensurePool(config, onProgress);
  const store = new ImageStore(config, pool);
  if (opts.refresh) await store.pins.refresh(store.recipeOf(name), onProgress);
  const { id, built } = await store.ensure(name, onProgress);
  if (!(opts.vm ?? config.defaultRuntime === 'vm')) return { name, id, built };
  await ensureVmAssets(config.imageCache, onProgress);
  const machineDisk = await new DiskImages(diskLayout(pool.root)).ensureImage(id, store.pathOf(id), { log: onProgress });
  return { name, id, built, machineDisk };
}

export async function listImages(config: BurrowConfig): Promise<ImageInfo[]> {
  return new ImageStore(config, await ensurePool(config)).list();
}

export { purge } from './host/purge.js';
