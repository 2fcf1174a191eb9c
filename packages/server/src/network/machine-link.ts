// The inside of a sandbox's namespace when a microVM, not a container, holds the sandbox: a
// bridge joins `eth0` (the veth's sandbox end) and a tap that QEMU opens, so the guest's own
// eth0 sits on the veth's /30 and takes the sandbox's address itself. The namespace keeps no
// address and routes nothing; the host side (the veth's host end, the firewall, the DNS
// resolver, the proxies that connect to the sandbox's address) is exactly as for a container.
// A container's namespace redirects the host's connections to 127.0.0.1 (veth.ts); a machine's
// has nothing to redirect (the frames are bridged), and the guest's kernel does it instead
// (runtime/vm/initramfs.ts).
import { run } from '../util/run.js';
import type { Subnet } from './address-pool.js';
import { NO_IPV6 } from './veth.js';

/** The bridge and the tap, named inside the namespace (each namespace has its own names). */
export const MACHINE_BRIDGE = 'br0';
export const MACHINE_TAP = 'tap0';

/** What QEMU and the guest need to join the sandbox's network. */
export interface MachineLink {
  /** The tap in the sandbox's namespace that QEMU opens. */
  tap: string;
  /** The guest's MAC address (its virtio-net device). */
  mac: string;
  /** The sandbox's address, which the guest's eth0 takes. */
  address: string;
  prefix: number;
  /** The host's end of the veth: the guest's default route, DNS resolver and proxies. */
  gateway: string;
}

/**
 * A locally administered unicast MAC (first octet 02) that carries the slot, so that a guest
 * keeps its MAC across restarts and the host's neighbour entry stays right.
 */
export function machineMac(slot: number): string {
  if (!Number.isInteger(slot) || slot < 0 || slot >= 2 ** 24) throw new Error(`slot ${slot} does not fit a MAC address`);
  const bytes = [0x02, 0x62, 0x77, (slot >> 16) & 0xff, (slot >> 8) & 0xff, slot & 0xff];
  return bytes.map((b) => b.toString(16).padStart(2, '0')).join(':');
}

export function machineLinkOf(subnet: Subnet): MachineLink {
  return { tap: MACHINE_TAP, mac: machineMac(subnet.slot), address: subnet.address, prefix: subnet.prefix, gateway: subnet.gateway };
}

/**
 * `ip -batch` lines that bring the namespace to the machine's layout from any state: nothing yet
 * (after the veth), half of it (a crash between two steps), or a container's layout (eth0 holding
 * the sandbox's address and the default route). `present` is the set of links the namespace has.
 */
export function machineLinkScript(present: ReadonlySet<string>): string[] {
  return [
    ...(present.has(MACHINE_BRIDGE) ? [] : [`link add ${MACHINE_BRIDGE} type bridge`]),
    // Persistent: the tap outlives a QEMU that exits, and goes with the namespace.
    ...(present.has(MACHINE_TAP) ? [] : [`tuntap add dev ${MACHINE_TAP} mode tap`]),
    // The guest answers for the sandbox's address; the namespace itself must not.
    'addr flush dev eth0',
    'route flush table main',
    `link set eth0 master ${MACHINE_BRIDGE}`,
    `link set ${MACHINE_TAP} master ${MACHINE_BRIDGE}`,
    'link set lo up',
    'link set eth0 up',
    `link set ${MACHINE_TAP} up`,
    `link set ${MACHINE_BRIDGE} up`,
  ];
}

/**
 * A container's redirect of the host's connections to 127.0.0.1 (veth.ts) has no use here: the
 * frames are bridged, not routed, and the namespace has no address. Deleted if it is there.
 */
export const NO_LOCAL_REDIRECT = ['table ip burrow', 'delete table ip burrow'].join('\n') + '\n';

/** Brings the namespace (whose veth exists) to the machine's layout; idempotent. */
export async function ensureMachineLink(netnsName: string, netnsPath: string): Promise<void> {
  // Before the bridge and the tap exist, so that `default` covers them too.
  await run('nsenter', [`--net=${netnsPath}`, 'sysctl', '-q', '-w', ...NO_IPV6]);
  const { stdout } = await run('ip', ['-n', netnsName, '-j', 'link', 'show']);
  const present = new Set((JSON.parse(stdout) as Array<{ ifname: string }>).map((l) => l.ifname));
  await run('ip', ['-n', netnsName, '-batch', '-'], { input: machineLinkScript(present).join('\n') + '\n' });
  await run('nsenter', [`--net=${netnsPath}`, 'nft', '-f', '-'], { input: NO_LOCAL_REDIRECT });
}
