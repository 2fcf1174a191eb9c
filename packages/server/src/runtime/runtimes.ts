// Builds the runtimes this host can offer and picks gVisor's platform.
import { access, constants, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { homePaths, type BurrowConfig, type RuntimeKind } from '../config.js';
import { succeeds } from '../util/run.js';
import { OciRuntime } from './oci-runtime.js';
import type { SandboxRuntime } from './runtime.js';

export type RuntimeSet = Record<RuntimeKind, SandboxRuntime>;

export async function createRuntimes(config: BurrowConfig, log: (line: string) => void = () => {}): Promise<RuntimeSet> {
  const paths = homePaths(config);
  const platform = await runscPlatform(config, log);
  return {
    gvisor: new OciRuntime({
      kind: 'gvisor',
      binary: 'runsc',
      root: paths.runtimeRoot('gvisor'),
      // --network=host: the sandbox uses the network namespace named in its bundle (runsc's own
      // netstack refuses to start on these kernels); that namespace is what isolates it.
      globalArgs: [`--platform=${platform}`, '--network=host'],
      isolation: `gVisor (runsc, ${platform} platform): a user-space kernel intercepts every system call; the host kernel is not exposed to the sandbox`,
    }),
    runc: new OciRuntime({
      kind: 'runc',
      binary: 'runc',
      root: paths.runtimeRoot('runc'),
      globalArgs: [],
      isolation: 'runc: Linux namespaces, a seccomp filter and dropped capabilities; the sandbox shares the host kernel (faster, weaker than gVisor)',
    }),
  };
}

/**
 * 'auto' uses KVM only when /dev/kvm is usable and a probe sandbox really starts on it (on hosts
 * with nested PVM virtualisation the kvm platform hangs), and ptrace otherwise. The answer is
 * remembered in the state directory.
 */
async function runscPlatform(config: BurrowConfig, log: (line: string) => void): Promise<string> {
  if (config.runscPlatform !== 'auto') return config.runscPlatform;
  const file = homePaths(config).platformFile;
  const remembered = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (remembered) return remembered;
  let platform = 'ptrace';
  const kvmUsable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  if (kvmUsable && (await succeeds('runsc', ['--platform=kvm', '--network=none', 'do', '/bin/true'], { timeoutMs: 10_000 }))) {
    platform = 'kvm';
  }
  log(`gVisor platform: ${platform}`);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${platform}\n`);
  return platform;
}
