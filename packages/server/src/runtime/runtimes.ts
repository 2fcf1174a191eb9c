// Builds the runtimes this host can offer and picks gVisor's platform.
import { access, constants, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { homePaths, type BurrowConfig, type RuntimeKind } from '../config.js';
import { probeSucceeds } from '../util/run.js';
import { OciRuntime } from './oci-runtime.js';
import type { SandboxRuntime } from './runtime.js';
import { VmRuntime, type VmHost } from './vm-runtime.js';
import { vmAcceleration } from './vm/acceleration.js';
import { hostTscKhz } from './vm/machine.js';
import { ensureVmAssets } from './vm/vm-assets.js';

export type RuntimeSet = Record<RuntimeKind, SandboxRuntime>;

/**
 * @param networkOf the network namespace of the sandbox a container belongs to: runc is started
 *   inside it rather than told to join it (see oci-bundle.ts)
 */
export async function createRuntimes(
  config: BurrowConfig,
  networkOf: (containerId: string) => string,
  log: (line: string) => void = () => {},
): Promise<RuntimeSet> {
  const paths = homePaths(config);
  const platform = await runscPlatform(config, log);
  return {
    gvisor: new OciRuntime({
      kind: 'gvisor',
      binary: 'runsc',
      root: paths.runtimeRoot('gvisor'),
      // --network=host: the sandbox uses the network namespace named in its bundle (runsc's own
      // netstack refuses to start on these kernels); that namespace is what isolates it.
      // --host-uds=open: a sandbox may connect to host unix sockets visible in its own mounts,
      // which is only its in-sandbox API socket (core/sandbox-api bind-mounts it at /.burrow/api).
      globalArgs: [`--platform=${platform}`, '--network=host', '--host-uds=open'],
      isolation: `gVisor (runsc, ${platform} platform): a user-space kernel intercepts every system call; the host kernel is not exposed to the sandbox`,
    }),
    runc: new OciRuntime({
      kind: 'runc',
      binary: 'runc',
      root: paths.runtimeRoot('runc'),
      globalArgs: [],
      networkOf,
      isolation:
        'runc: Linux namespaces with a user namespace of its own (root inside is an unprivileged id range on the host), a seccomp filter and dropped capabilities; the sandbox shares the host kernel (faster, weaker than gVisor)',
    }),
    vm: new VmRuntime({ root: paths.runtimeRoot('vm'), host: once(() => vmHost(config, log)) }),
  };
}

/**
 * The guest kernel and initramfs (downloaded and built on first use) and KVM or TCG (probed
 * once per machine): asked for by the first `vm` boot, so that hosts that never run one pay
 * nothing.
 */
async function vmHost(config: BurrowConfig, log: (line: string) => void): Promise<VmHost> {
  const assets = await ensureVmAssets(config.imageCache, log);
  return { assets, accel: await vmAcceleration(config.imageCache, async () => assets, log), tscKhz: await hostTscKhz() };
}

/** `make()` called at most once while it succeeds; a failure is forgotten, so the next call tries again. */
function once<T>(make: () => Promise<T>): () => Promise<T> {
  let made: Promise<T> | undefined;
  return () => {
    made ??= make().catch((e: unknown) => {
      made = undefined;
      throw e;
    });
    return made;
  };
}

/**
 * 'auto' uses KVM only when /dev/kvm is usable and a probe sandbox really starts on it (on hosts
 * with nested PVM virtualisation the kvm platform hangs), and ptrace otherwise. The answer is a
 * fact of the machine, so it is remembered beside the shared image cache.
 */
async function runscPlatform(config: BurrowConfig, log: (line: string) => void): Promise<string> {
  if (config.runscPlatform !== 'auto') return config.runscPlatform;
  const file = join(config.imageCache, '..', 'runsc-platform');
  const remembered = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (remembered) return remembered;
  let platform = 'ptrace';
  const kvmUsable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  if (kvmUsable && (await probeSucceeds('runsc', ['--platform=kvm', '--network=none', 'do', '/bin/true'], 10_000))) {
    platform = 'kvm';
  }
  log(`gVisor platform: ${platform}`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${platform}\n`);
  return platform;
}
