// KVM or TCG for `vm` sandboxes. /dev/kvm existing proves little: on a host that is itself a
// guest of a paravirtual hypervisor the device exists and a stock guest kernel hangs under it.
// So burrow boots a guest once per machine and remembers the answer beside the image cache, as
// it does for gVisor's platform (runtime/runtimes.ts).
import { access, constants, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { hostTscKhz, qemuArgs, type Acceleration } from './machine.js';
import { probeSucceeds } from '../../util/run.js';
import { ensureVmAssets } from './vm-assets.js';

/** A KVM guest reaches its init in well under a second; a hung one never does. */
const KVM_PROBE_TIMEOUT_MS = 20_000;

export function accelerationFile(imageCache: string): string {
  return join(imageCache, '..', 'vm-acceleration');
}

/** The remembered answer, or null before the first probe. */
export async function rememberedAcceleration(imageCache: string): Promise<Acceleration | null> {
  const text = (await readFile(accelerationFile(imageCache), 'utf8').catch(() => '')).trim();
  return text === 'kvm' || text === 'tcg' ? text : null;
}

/** @param guest what to boot, asked for only where /dev/kvm exists (it may download a kernel) */
export async function vmAcceleration(
  imageCache: string,
  guest: () => Promise<{ kernel: string; initramfs: string }>,
  log: (line: string) => void = () => {},
): Promise<Acceleration> {
  const remembered = await rememberedAcceleration(imageCache);
  if (remembered) return remembered;
  const kvmUsable = await access('/dev/kvm', constants.R_OK | constants.W_OK).then(
    () => true,
    () => false,
  );
  const accel: Acceleration = kvmUsable && (await guestBoots('kvm', await guest(), KVM_PROBE_TIMEOUT_MS)) ? 'kvm' : 'tcg';
  log(`vm sandboxes run under ${accel === 'kvm' ? 'KVM' : 'TCG (software emulation: slow)'}`);
  const file = accelerationFile(imageCache);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(file, `${accel}\n`);
  return accel;
}

/**
 * One line for `burrow doctor`. With `probe`, a host not probed yet is probed (which fetches the
 * guest kernel first); a failure there is reported, not thrown: vm sandboxes are optional.
 */
export async function describeVmAcceleration(imageCache: string, opts: { probe: boolean; log: (line: string) => void }): Promise<string> {
  let accel = await rememberedAcceleration(imageCache);
  if (!accel && opts.probe) {
    try {
      accel = await vmAcceleration(imageCache, () => ensureVmAssets(imageCache, opts.log), opts.log);
    } catch (e) {
      return `vm sandboxes: cannot probe KVM: ${(e as Error).message}`;
    }
  }
  if (accel === 'kvm') return 'vm sandboxes: KVM (a test guest booted under it)';
  if (accel === 'tcg') return 'vm sandboxes: TCG, software emulation (no KVM guest boots on this host): slow';
  return 'vm sandboxes: KVM not probed yet (`burrow doctor --fix` boots a test guest)';
}

/**
 * Boots the kernel with the initramfs's busybox as init, which powers the guest off at once:
 * QEMU exits 0 only if the guest got that far (no `panic=-1` here: a panic must hang, not end
 * QEMU as a reboot would). A guest that outlasts `timeoutMs` has its whole
 * process group killed.
 */
export async function guestBoots(accel: Acceleration, guest: { kernel: string; initramfs: string }, timeoutMs: number): Promise<boolean> {
  const work = await mkdtemp(join(tmpdir(), 'burrow-vm-probe-'));
  try {
    const args = qemuArgs({
      accel,
      cpus: 1,
      memoryMb: 256,
      kernel: guest.kernel,
      initramfs: guest.initramfs,
      consoleLog: join(work, 'console.log'),
      tscKhz: await hostTscKhz(),
      // Everything after `--` is init's argv: `busybox poweroff -f`.
      kernelArgs: ['rdinit=/bin/busybox', '--', 'poweroff', '-f'],
    });
    return await probeSucceeds('qemu-system-x86_64', args, timeoutMs);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
