// The smallest initramfs that boots a `vm` sandbox from its disk: busybox (static), the few
// virtio drivers Debian's cloud kernel builds as modules, the bridge to the host
// (image/vm/burrow-vm-bridge.c), nft for the guest's one NAT rule, and an /init that ties them
// together (and gives the guest its address on the sandbox's network). Built once per kernel
// version and recipe, cached beside the extracted kernel.
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { packageFile } from '../../util/package-files.js';
import { run } from '../../util/run.js';
import { cpioArchive, type CpioEntry } from './cpio.js';
import { readModulesDep, type GuestKernel } from './guest-kernel.js';
import { loadOrder, moduleName, parseModulesDep } from './kernel-modules.js';
import { exists } from '../../util/exists.js';

/** nftables' NAT in the guest's kernel: the host's connections to the guest's localhost. */
const LOCAL_REDIRECT_MODULES = ['nft_chain_nat', 'nft_nat'];

/**
 * Drivers the guest needs that the cloud kernel has only as modules (ext4 is built in): the
 * microvm machine's virtio-mmio bus, the disk, the console ports (the bridge's channel where the
 * host has no vhost-vsock), vsock (its channel where the host has it), the network, and NAT.
 */
export const GUEST_MODULES = ['virtio_mmio', 'virtio_blk', 'virtio_console', 'vmw_vsock_virtio_transport', 'virtio_net', ...LOCAL_REDIRECT_MODULES];

/** The name of the virtio-serial port the bridge listens on; the guest finds it by this name. */
export const AGENT_PORT_NAME = 'burrow.agent';

/** The kernel argument /init reads the guest's address from: `burrow.net=<address>/<prefix>,<gateway>`. */
export const NET_KERNEL_ARG = 'burrow.net';

const BUSYBOX = '/bin/busybox';
/**
 * busybox and nft as the init leaves them in the guest (on its /run, root's alone), for the
 * host's commands there once the initramfs is gone: the disk's own tools may lack them.
 */
const GUEST_TOOLS = '/run/burrow-vm';
/** The guest's busybox, for the host's commands there (see GUEST_TOOLS). */
export const GUEST_BUSYBOX = `${GUEST_TOOLS}/busybox`;
/** The host's nft, run in the guest by the host's dynamic loader with the host's libraries. */
const NFT = '/usr/sbin/nft';
/** Where nft, its libraries and the loader sit in the initramfs. */
const NFT_DIR = 'lib/nft';
const LOADER = 'ld-linux-x86-64.so.2';
const BRIDGE_SOURCE = 'image/vm/burrow-vm-bridge.c';
/** What PID 1 of the disk is: the same agent as in containers (image/burrow-agent.c). */
const DISK_INIT = ['/usr/local/sbin/burrow-agent', 'init'];

/**
 * Mounts the disk on /newroot, starts the bridge chrooted into it, and switches root to the
 * disk's init. busybox is called by name throughout: the initramfs has no applet links.
 */
export function initScript(modules: readonly string[]): string {
  return `#!/bin/busybox sh
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
busybox mount -t devtmpfs devtmpfs /dev
for m in ${modules.join(' ')}; do
  busybox insmod /lib/modules/$m.ko || busybox echo "burrow-init: insmod $m failed"
done
fail() { busybox echo "burrow-init: $*"; busybox poweroff -f; }
${nftFunction()}
busybox ip link set lo up
${guestNetworkLines().join('\n')}
# The port is found by the name the host gave it: device numbers depend on probe order.
agent_port() {
  for f in /sys/class/virtio-ports/*/name; do
    [ "$(busybox cat "$f" 2>/dev/null)" = ${AGENT_PORT_NAME} ] && { f=\${f%/name}; busybox echo "/dev/\${f##*/}"; return; }
  done
}
n=0
while [ ! -b /dev/vda ] || [ -z "$(agent_port)" ]; do
  n=$((n + 1)); [ $n -gt 600 ] && fail "no disk or no ${AGENT_PORT_NAME} port after 30 s"
  busybox sleep 0.05
done
port=$(agent_port)
# discard: deleted files give their blocks back through virtio-blk to the host's pool file.
busybox mount -t ext4 -o discard /dev/vda /newroot || fail "cannot mount the disk"
${guestResolverLines().join('\n')}
busybox mount --move /dev /newroot/dev
busybox mkdir -p /newroot/dev/pts
busybox mount -t devpts -o newinstance,ptmxmode=0666 devpts /newroot/dev/pts
# What a container runtime gives every container and devtmpfs lacks: bash's process
# substitution opens /dev/fd/N, and POSIX shared memory lives in /dev/shm.
busybox ln -sfn /proc/self/fd /newroot/dev/fd
busybox ln -sf /proc/self/fd/0 /newroot/dev/stdin
busybox ln -sf /proc/self/fd/1 /newroot/dev/stdout
busybox ln -sf /proc/self/fd/2 /newroot/dev/stderr
busybox mkdir -p /newroot/dev/shm
busybox mount -t tmpfs -o mode=1777,nosuid,nodev shm /newroot/dev/shm
busybox mount --move /proc /newroot/proc
busybox mount --move /sys /newroot/sys
busybox mount -t tmpfs -o mode=0755 tmpfs /newroot/run
busybox mkdir -m 0700 /newroot${GUEST_TOOLS}
busybox cp -a /bin/busybox /${NFT_DIR} /newroot${GUEST_TOOLS}/
# busybox sh opens /dev/null for a background job before its own redirections.
busybox mknod -m 666 /dev/null c 1 3
/bin/burrow-vm-bridge "/newroot$port" /newroot /bridge-started </newroot/dev/null >/newroot/dev/console 2>&1 &
# switch_root deletes the initramfs's files: the bridge must have started first.
while [ ! -e /bridge-started ]; do busybox sleep 0.01; done
exec busybox switch_root /newroot ${DISK_INIT.join(' ')}
`;
}

/**
 * The guest's eth0 from NET_KERNEL_ARG on the kernel command line (machine.ts), if there is
 * one. The address is the sandbox's: the host's rules, resolver and proxies treat the guest as
 * they treat a container.
 */
export function guestNetworkLines(): string[] {
  return [
    'net=',
    `for word in $(busybox cat /proc/cmdline); do case "$word" in ${NET_KERNEL_ARG}=*) net=\${word#${NET_KERNEL_ARG}=} ;; esac; done`,
    ...eth0Lines(),
  ];
}

/**
 * Run in a guest resumed from saved memory (machine-memory.ts) by busybox sh, with the
 * sandbox's NET_KERNEL_ARG value (empty: no network) and the host's time in seconds as $1 and
 * $2. eth0 takes the sandbox's address again (a fork's differs from its source's), and the clock
 * the time, which stood still while the memory lay on disk.
 */
export function resumedGuestScript(): string {
  return [
    `busybox() { ${GUEST_BUSYBOX} "$@"; }`,
    nftFunction(`${GUEST_TOOLS}/nft`),
    'fail() { busybox echo "$*" >&2; exit 1; }',
    // A checkpoint's memory is saved with the guest's filesystem frozen (Checkpoints.take).
    'busybox fsfreeze --unfreeze / 2>/dev/null',
    'busybox date -s "@$2" >/dev/null || busybox echo "cannot set the clock" >&2',
    'net=$1',
    'if [ -n "$net" ]; then',
    '  busybox ip addr flush dev eth0',
    '  busybox ip route flush dev eth0',
    '  nft delete table ip burrow 2>/dev/null || true',
    'fi',
    ...eth0Lines(),
  ].join('\n');
}

/** The `busybox sh` command that runs resumedGuestScript in the guest. */
export function resumedGuestCommand(net: string, epochSeconds: number): string[] {
  return [GUEST_BUSYBOX, 'sh', '-c', resumedGuestScript(), 'sh', net, String(epochSeconds)];
}

/** eth0 from $net (address/prefix,gateway), if there is one. */
function eth0Lines(): string[] {
  return [
    'if [ -n "$net" ]; then',
    '  n=0',
    '  until busybox test -e /sys/class/net/eth0; do',
    '    n=$((n + 1)); [ $n -gt 200 ] && fail "no eth0 after 10 s"',
    '    busybox sleep 0.05',
    '  done',
    // IPv4 only, as a container's namespace is (the host's rules drop IPv6 anyway).
    '  busybox sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1',
    '  busybox ip addr add "${net%,*}" dev eth0 || fail "cannot give eth0 ${net%,*}"',
    '  busybox ip link set eth0 up',
    '  busybox ip route add default via "${net#*,}" || fail "cannot route through ${net#*,}"',
    ...localRedirectLines(),
    'fi',
  ];
}

/**
 * As in a container's namespace (network/veth.ts), the host's TCP connections to the guest's
 * address land on its 127.0.0.1, so that the proxies reach services that listen on localhost
 * only. The rule lives in the guest's kernel, set before the disk's init runs. Without it the
 * guest still works; services on all addresses are reached all the same.
 */
export function localRedirectLines(): string[] {
  return [
    '  busybox sysctl -q -w net.ipv4.conf.eth0.route_localnet=1',
    `  nft -f - <<EOF || busybox echo "burrow-init: no redirect of the host's connections to localhost"`,
    'table ip burrow {',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    '    iifname "eth0" ip saddr ${net#*,} ip daddr ${net%/*} meta l4proto tcp dnat to 127.0.0.1',
    '  }',
    '}',
    'EOF',
  ];
}

/**
 * nft, through the loader, with its own libraries from `dir`: the initramfs has no
 * /etc/ld.so.cache (and the guest's copy of them, in GUEST_TOOLS, is not the disk's).
 */
function nftFunction(dir = `/${NFT_DIR}`): string {
  return `nft() { ${dir}/${LOADER} --library-path ${dir} ${dir}/nft "$@"; }`;
}

/** The absolute paths of the shared objects (libraries and loader) in \`ldd\`'s output. */
export function sharedObjectsOf(lddOutput: string): string[] {
  const paths: string[] = [];
  for (const line of lddOutput.split('\n')) {
    const match = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (match) paths.push(match[1]!);
  }
  return paths;
}

/**
 * The guest resolves through burrow's resolver on the gateway, as a container does; a container
 * gets the file mounted, the guest has it written onto its disk (replacing a link, which would
 * point into the initramfs here).
 */
export function guestResolverLines(): string[] {
  return [
    'if [ -n "$net" ]; then',
    '  busybox mkdir -p /newroot/etc',
    '  busybox rm -f /newroot/etc/resolv.conf',
    '  busybox printf "nameserver %s\\noptions edns0\\n" "${net#*,}" > /newroot/etc/resolv.conf',
    'fi',
  ];
}

/** The cached initramfs for this kernel, built first if needed; its path. */
export async function ensureInitramfs(kernel: GuestKernel, log: (line: string) => void = () => {}): Promise<string> {
  const modules = loadOrder(parseModulesDep(await readModulesDep(kernel)), GUEST_MODULES);
  const script = initScript(modules.map(moduleName));
  const busybox = await readFile(BUSYBOX);
  if (!isStaticElf(busybox)) throw new Error(`${BUSYBOX} is linked dynamically; install busybox-static (burrow doctor --fix)`);
  const bridgeSource = await readFile(packageFile(BRIDGE_SOURCE), 'utf8');
  const nft = await nftFiles();
  const digest = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
  const recipe = createHash('sha256')
    .update(
      JSON.stringify({
        script,
        modules,
        bridgeSource,
        busybox: digest(busybox),
        nft: nft.map((f) => [f.name, digest(f.data)]),
        format: 1,
      }),
    )
    .digest('hex')
    .slice(0, 12);
  const path = join(kernel.root, `initramfs-${recipe}.cpio`);
  if (await exists(path)) return path;

  log(`building the vm initramfs ${recipe} for kernel ${kernel.version}`);
  const work = await mkdtemp(join(tmpdir(), 'burrow-initramfs-'));
  try {
    const bridge = join(work, 'burrow-vm-bridge');
    await run('gcc', ['-static', '-O2', '-Wall', '-o', bridge, packageFile(BRIDGE_SOURCE)]);
    const entries: CpioEntry[] = [
      ...['bin', 'dev', 'proc', 'sys', 'newroot', 'lib', 'lib/modules', NFT_DIR].map((dir) => ({ kind: 'dir' as const, path: dir, mode: 0o755 })),
      ...nft.map((f) => ({ kind: 'file' as const, path: `${NFT_DIR}/${f.name}`, mode: 0o755, data: f.data })),
      { kind: 'char', path: 'dev/console', mode: 0o600, major: 5, minor: 1 },
      { kind: 'file', path: 'bin/busybox', mode: 0o755, data: busybox },
      { kind: 'file', path: 'bin/burrow-vm-bridge', mode: 0o755, data: await readFile(bridge) },
      { kind: 'file', path: 'init', mode: 0o755, data: Buffer.from(script) },
    ];
    for (const module of modules) {
      entries.push({ kind: 'file', path: `lib/modules/${moduleName(module)}.ko`, mode: 0o644, data: await readFile(join(kernel.modulesDir, module)) });
    }
    // Uncompressed: under TCG, decompressing in the guest costs more than reading the bytes.
    const partial = `${path}.partial-${process.pid}`;
    await writeFile(partial, cpioArchive(entries));
    await rename(partial, path);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return path;
}

/** nft and every shared object it loads, by file name (they go into one directory). */
async function nftFiles(): Promise<Array<{ name: string; data: Buffer }>> {
  const { stdout } = await run('ldd', [NFT]);
  const objects = sharedObjectsOf(stdout);
  if (!objects.some((o) => basename(o) === LOADER)) throw new Error(`${NFT} is not loaded by ${LOADER}: ldd says ${stdout.trim()}`);
  return Promise.all([NFT, ...objects].map(async (path) => ({ name: basename(path), data: await readFile(path) })));
}

/** An ELF executable with no PT_INTERP program header needs no dynamic loader. */
export function isStaticElf(file: Buffer): boolean {
  const ELF_MAGIC = 0x7f454c46;
  const PT_INTERP = 3;
  if (file.length < 64 || file.readUInt32BE(0) !== ELF_MAGIC || file[4] !== 2) return false; // 64-bit only
  const phoff = Number(file.readBigUInt64LE(32));
  const phentsize = file.readUInt16LE(54);
  const phnum = file.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > file.length) return false;
    if (file.readUInt32LE(at) === PT_INTERP) return false;
  }
  return true;
}
