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

/** DNS wire helpers, for tests that play an upstream DNS server. */
export { addressReply, emptyReply, parseQuery, RCODE_NXDOMAIN } from './network/dns-message.js';

/** Certificates on the fly, for tests and benchmarks that play an HTTPS upstream. */
export { CertificateAuthority } from './egress/certificate-authority.js';
/** The egress proxy's parts, for the benchmark that measures it against a direct request. */
export { EgressProxy } from './egress/proxy.js';
export { Injector } from './egress/injector.js';
export { Placeholders } from './egress/placeholders.js';
export { TokenizerKeys } from './egress/tokenizer-secrets.js';

/** When a service's log is set aside, for the test that fills one. */
export { LOG_ROTATE_BYTES } from './core/services.js';
export { FIRST_ID_BASE, ID_RANGE_SIZE, shiftOwnership } from './storage/ownership.js';

/** The layers of the `vm` runtime, for the tests that boot guests under TCG. */
export { ensureVmAssets, type VmAssets } from './runtime/vm/vm-assets.js';
export { guestBoots, vmAcceleration } from './runtime/vm/acceleration.js';
export { hostTscKhz, startMachine, stopMachine, type RunningMachine } from './runtime/vm/machine.js';
export { GuestChannel } from './runtime/vm/guest-channel.js';
export { Qmp } from './runtime/vm/qmp.js';
export { VmRuntime } from './runtime/vm-runtime.js';
export { DiskImages, diskLayout } from './storage/disk-images.js';
export { ImageStore } from './storage/images.js';
export { poolLayout } from './storage/pool.js';
