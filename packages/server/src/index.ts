// The server package's public entry: what the CLI's host-local commands call.
import type { BurrowConfig, ImageName } from './config.js';
import { ImageStore, type ImageInfo } from './storage/images.js';
import { ensurePool } from './storage/pool.js';

export { loadConfig, type BurrowConfig } from './config.js';
export { serve, type RunningServer } from './serve.js';
export { doctor, type DoctorReport } from './host/doctor.js';

export async function buildImage(
  config: BurrowConfig,
  name: ImageName,
  onProgress: (line: string) => void = () => {},
  opts: { refresh?: boolean } = {},
): Promise<{ name: string; id: string; built: boolean }> {
  const store = new ImageStore(config, await ensurePool(config, onProgress));
  if (opts.refresh) await store.pins.refresh(store.recipeOf(name), onProgress);
  const { id, built } = await store.ensure(name, onProgress);
  return { name, id, built };
}

export async function listImages(config: BurrowConfig): Promise<ImageInfo[]> {
  return new ImageStore(config, await ensurePool(config)).list();
}

export { purge } from './host/purge.js';
