// The pure parts of the `vm` runtime's guest: the initramfs archive, which kernel modules it
// loads in which order, QEMU's command line, and the frames of the channel to the bridge. The
// booting itself is tested for real in test/integration/vm-tcg.test.ts.
import { describe, expect, it } from 'vitest';
import { cpioArchive } from '../src/runtime/vm/cpio.js';
import { encodeFrame, FRAME, FrameDecoder, MAX_PAYLOAD } from '../src/runtime/vm/frames.js';
import { kernelVersionFrom } from '../src/runtime/vm/guest-kernel.js';
import { initScript, isStaticElf } from '../src/runtime/vm/initramfs.js';
import { loadOrder, moduleName, parseModulesDep } from '../src/runtime/vm/kernel-modules.js';
import { qemuArgs, tscKhzFrom, type MachineSpec } from '../src/runtime/vm/machine.js';
import { MACHINE_NETWORK_ANNOTATION } from '../src/runtime/oci-bundle.js';
import { VISIBLE_VIEWS } from '../src/runtime/runtime.js';
import { machineBundleOf } from '../src/runtime/vm-runtime.js';

/** The entries of a newc archive: name, mode, size and data, read back field by field. */
function readCpio(archive: Buffer): Array<{ name: string; mode: number; data: string; rdev: [number, number] }> {
  const entries = [];
  let at = 0;
  const align = (n: number) => (n + 3) & ~3;
  for (;;) {
    expect(archive.toString('ascii', at, at + 6)).toBe('070701');
    const field = (i: number) => parseInt(archive.toString('ascii', at + 6 + i * 8, at + 14 + i * 8), 16);
    const [mode, size, rdevMajor, rdevMinor, nameSize] = [field(1), field(6), field(9), field(10), field(11)];
    const name = archive.toString('utf8', at + 110, at + 110 + nameSize - 1);
    const dataAt = align(at + 110 + nameSize);
    if (name === 'TRAILER!!!') return entries;
    entries.push({ name, mode, data: archive.toString('utf8', dataAt, dataAt + size), rdev: [rdevMajor, rdevMinor] as [number, number] });
    at = align(dataAt + size);
  }
}

describe('the initramfs archive', () => {
  it('holds directories, files and device nodes in the newc format the kernel unpacks', () => {
    const archive = cpioArchive([
      { kind: 'dir', path: 'bin', mode: 0o755 },
      { kind: 'file', path: 'bin/hello', mode: 0o755, data: Buffer.from('odd length') },
      { kind: 'char', path: 'console', mode: 0o600, major: 5, minor: 1 },
    ]);
    expect(archive.length % 4).toBe(0);
    expect(readCpio(archive)).toEqual([
      { name: 'bin', mode: 0o040755, data: '', rdev: [0, 0] },
      { name: 'bin/hello', mode: 0o100755, data: 'odd length', rdev: [0, 0] },
      { name: 'console', mode: 0o020600, data: '', rdev: [5, 1] },
    ]);
  });

  it('is the same bytes for the same inputs', () => {
    const entries = [{ kind: 'file' as const, path: 'init', mode: 0o755, data: Buffer.from('#!/bin/sh\n') }];
    expect(cpioArchive(entries).equals(cpioArchive(entries))).toBe(true);
  });

  it('refuses paths that leave the archive', () => {
    expect(() => cpioArchive([{ kind: 'dir', path: '../etc', mode: 0o755 }])).toThrow(/inside the archive/);
    expect(() => cpioArchive([{ kind: 'dir', path: '/etc', mode: 0o755 }])).toThrow(/inside the archive/);
  });
});

describe('kernel modules', () => {
  // As depmod writes it for Debian's 6.1 cloud kernel (abridged).
  const modulesDep = parseModulesDep(
    [
      'kernel/drivers/virtio/virtio_ring.ko:',
      'kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
      'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
      'kernel/net/vmw_vsock/vsock.ko:',
      'kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko: kernel/net/vmw_vsock/vsock.ko',
      'kernel/net/vmw_vsock/vmw_vsock_virtio_transport.ko: kernel/net/vmw_vsock/vmw_vsock_virtio_transport_common.ko kernel/net/vmw_vsock/vsock.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
      '',
    ].join('\n'),
  );

  it('loads each module after everything it needs, and each once', () => {
    const order = loadOrder(modulesDep, ['virtio_mmio', 'virtio_blk', 'vmw_vsock_virtio_transport']).map(moduleName);
    expect(order).toEqual(['virtio_ring', 'virtio', 'virtio_mmio', 'virtio_blk', 'vsock', 'vmw_vsock_virtio_transport_common', 'vmw_vsock_virtio_transport']);
  });

  it('refuses a module the kernel does not have, rather than booting a guest without its disk', () => {
    expect(() => loadOrder(modulesDep, ['virtio_scsi'])).toThrow(/no module virtio_scsi/);
  });

  it('insmods them in that order from /init', () => {
    expect(initScript(['virtio_ring', 'virtio'])).toContain('for m in virtio_ring virtio; do');
  });
});

describe('the guest kernel', () => {
  it('is the version the cloud meta-package depends on', () => {
    expect(kernelVersionFrom('linux-image-cloud-amd64\n  Depends: linux-image-6.1.0-57-cloud-amd64\n')).toBe('6.1.0-57-cloud-amd64');
    expect(() => kernelVersionFrom('E: No packages found')).toThrow(/cloud kernel/);
  });

  it('boots with a busybox that needs no dynamic loader', () => {
    /** A 64-bit ELF header and program headers of the given types (PT_LOAD 1, PT_INTERP 3). */
    const elf = (...types: number[]) => {
      const file = Buffer.alloc(64 + 56 * types.length);
      file.writeUInt32BE(0x7f454c46, 0);
      file[4] = 2;
      file.writeBigUInt64LE(64n, 32);
      file.writeUInt16LE(56, 54);
      file.writeUInt16LE(types.length, 56);
      types.forEach((type, i) => file.writeUInt32LE(type, 64 + 56 * i));
      return file;
    };
    expect(isStaticElf(elf(1, 1))).toBe(true);
    expect(isStaticElf(elf(1, 3, 1))).toBe(false);
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });
});

describe("QEMU's command line", () => {
  const spec: MachineSpec = {
    accel: 'tcg',
    cpus: 2,
    memoryMb: 1024,
    kernel: '/cache/vmlinuz',
    initramfs: '/cache/initramfs.cpio',
    disk: '/pool/vm-disks/sandboxes/a,b.ext4',
    agentSocket: '/run/sb/agent.sock',
    consoleLog: '/run/sb/console.log',
    qmpSocket: '/run/sb/qmp.sock',
    tscKhz: 2_096_000,
  };
  const valueOf = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

  it('gives a TCG guest the host TSC frequency and a KVM guest the host CPU', () => {
    const tcg = qemuArgs(spec);
    expect(valueOf(tcg, '-accel')[0]).toMatch(/^tcg/);
    expect(valueOf(tcg, '-append')[0]).toContain('tsc_early_khz=2096000');
    const kvm = qemuArgs({ ...spec, accel: 'kvm' });
    expect(valueOf(kvm, '-accel')).toEqual(['kvm']);
    expect(valueOf(kvm, '-cpu')).toEqual(['host']);
    expect(valueOf(kvm, '-append')[0]).not.toContain('tsc_early_khz');
  });

  it('sizes the machine from the limits and passes discard through to the disk', () => {
    const args = qemuArgs(spec);
    expect(valueOf(args, '-m')).toEqual(['1024M']);
    expect(valueOf(args, '-smp')).toEqual(['2']);
    // A comma in a path is doubled: QEMU would read it as the start of the next option.
    expect(valueOf(args, '-drive')[0]).toContain('file=/pool/vm-disks/sandboxes/a,,b.ext4,format=raw');
    expect(valueOf(args, '-drive')[0]).toContain('discard=unmap');
    expect(valueOf(args, '-qmp')).toEqual(['unix:/run/sb/qmp.sock,server=on,wait=off']);
  });

  it("reads the machine from the bundle: vCPUs and RAM from its cgroup limits, the disk as its root, its read-only files", () => {
    const link = { tap: 'tap0', mac: '02:62:77:00:00:05', address: '10.0.0.22', prefix: 30, gateway: '10.0.0.21' };
    const bundle = (memory: number | undefined, quota: number) => ({
      hostname: 'box',
      process: { env: ['PATH=/usr/bin', 'BURROW_NPROC=64'] },
      annotations: { [MACHINE_NETWORK_ANNOTATION]: JSON.stringify(link) },
      root: { path: '/pool/sandboxes/abc/disk.ext4' },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/tmp', type: 'bind', source: '/x/tmp', options: ['rbind', 'rw'] },
        { destination: '/etc/hosts', type: 'bind', source: '/state/abc/etc/hosts', options: ['rbind', 'ro'] },
      ],
      linux: {
        cgroupsPath: '/burrow-t-abc-1',
        namespaces: [{ type: 'pid' }, { type: 'network', path: '/run/netns/x' }],
        resources: { memory: memory === undefined ? undefined : { limit: memory }, cpu: { quota, period: 100_000 } },
      },
    });
    expect(machineBundleOf(bundle(1024 * 2 ** 20, 200_000))).toEqual({
      disk: '/pool/sandboxes/abc/disk.ext4',
      hostname: 'box',
      size: { cpus: 2, memoryMb: 1024, viewSlots: VISIBLE_VIEWS },
      cpuShare: 2,
      cgroupsPath: '/burrow-t-abc-1',
      network: { netnsPath: '/run/netns/x', ...link },
      files: [{ destination: '/etc/hosts', source: '/state/abc/etc/hosts' }],
      // pids_limit, for the guest's PID 1 (image/burrow-agent.c) through the kernel command line.
      processCap: 64,
    });
    // Half a CPU still needs a whole vCPU (the cgroup holds it to half); 1.5 CPUs two.
    expect(machineBundleOf(bundle(512 * 2 ** 20, 50_000))).toMatchObject({ size: { cpus: 1, memoryMb: 512 }, cpuShare: 0.5 });
    expect(machineBundleOf(bundle(512 * 2 ** 20, 150_000))).toMatchObject({ size: { cpus: 2, memoryMb: 512 } });
    expect(machineBundleOf(bundle(undefined, 100_000)).size).toEqual({ cpus: 1, memoryMb: 512, viewSlots: VISIBLE_VIEWS });
    expect(() => machineBundleOf({})).toThrow(/no disk/);
    // A bundle without a link gives the guest no network card.
    expect(machineBundleOf({ ...bundle(undefined, 100_000), annotations: {} }).network).toBeUndefined();
  });

  it('reads the TSC frequency from /proc/cpuinfo', () => {
    expect(tscKhzFrom('processor\t: 0\ncpu MHz\t\t: 2095.999\n')).toBe(2_095_999);
    expect(tscKhzFrom('processor\t: 0\n')).toBeUndefined();
  });
});

describe('frames between host and bridge', () => {
  it('are split back out of a stream however it is chunked', () => {
    const stream = Buffer.concat([encodeFrame(FRAME.READY, 0), encodeFrame(FRAME.STDOUT, 7, Buffer.from('hello\n')), encodeFrame(FRAME.EXIT, 7, Buffer.from([3, 0, 0, 0]))]);
    const decoder = new FrameDecoder();
    const frames = [...stream].flatMap((byte) => decoder.push(Buffer.from([byte])));
    expect(frames.map((f) => [f.type, f.id, f.payload.toString('hex')])).toEqual([
      [FRAME.READY, 0, ''],
      [FRAME.STDOUT, 7, Buffer.from('hello\n').toString('hex')],
      [FRAME.EXIT, 7, '03000000'],
    ]);
  });

  it('refuse a frame larger than the bridge would ever send', () => {
    const header = Buffer.alloc(9);
    header.writeUInt32LE(MAX_PAYLOAD + 1, 5);
    expect(() => new FrameDecoder().push(header)).toThrow(/at most/);
  });
});
