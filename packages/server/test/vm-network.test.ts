// The pure parts of a `vm` sandbox's network: the namespace's layout as `ip` commands, the guest's
// MAC, QEMU's network card and how it is started inside the namespace, and the lines of the
// initramfs's /init that give the guest its address (run here under busybox sh with `busybox`
// itself played by a shell function). The whole is booted for real in
// test/integration/vm-network.test.ts.
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AddressPool } from '../src/network/address-pool.js';
import { machineLinkOf, machineLinkScript, machineMac, MACHINE_BRIDGE, MACHINE_TAP } from '../src/network/machine-link.js';
import { guestNetworkLines, guestResolverLines, initScript, sharedObjectsOf } from '../src/runtime/vm/initramfs.js';
import { netKernelArg, qemuArgs, qemuCommand, type MachineSpec } from '../src/runtime/vm/machine.js';

const subnet = new AddressPool('10.128.4.0/22').subnet(5);
const link = machineLinkOf(subnet);
const spec: MachineSpec = {
  accel: 'tcg',
  cpus: 1,
  memoryMb: 512,
  kernel: '/cache/vmlinuz',
  initramfs: '/cache/initramfs.cpio',
  consoleLog: '/run/sb/console.log',
  network: { netnsPath: '/var/run/netns/burrow-abc-sb1', ...link },
};
const valueOf = (args: string[], flag: string) => args.filter((_, i) => args[i - 1] === flag);

describe("a machine's side of the sandbox's namespace", () => {
  it("joins the veth's sandbox end and a tap in a bridge, and gives the guest the sandbox's address", () => {
    expect(link).toEqual({ tap: MACHINE_TAP, mac: '02:62:77:00:00:05', address: '10.128.4.22', prefix: 30, gateway: '10.128.4.21' });
    expect(machineLinkScript(new Set(['lo', 'eth0']))).toEqual([
      `link add ${MACHINE_BRIDGE} type bridge`,
      `tuntap add dev ${MACHINE_TAP} mode tap`,
      'addr flush dev eth0',
      'route flush table main',
      `link set eth0 master ${MACHINE_BRIDGE}`,
      `link set ${MACHINE_TAP} master ${MACHINE_BRIDGE}`,
      'link set lo up',
      'link set eth0 up',
      `link set ${MACHINE_TAP} up`,
      `link set ${MACHINE_BRIDGE} up`,
    ]);
  });

  it('creates only what is missing, and puts everything in its place again whatever was there', () => {
    const complete = machineLinkScript(new Set(['lo', 'eth0', MACHINE_BRIDGE, MACHINE_TAP]));
    expect(complete.filter((line) => / add /.test(` ${line}`))).toEqual([]);
    const halfMade = machineLinkScript(new Set(['lo', 'eth0', MACHINE_BRIDGE]));
    expect(halfMade[0]).toBe(`tuntap add dev ${MACHINE_TAP} mode tap`);
    expect(halfMade.slice(1)).toEqual(complete);
  });

  it('gives each slot its own locally administered unicast MAC', () => {
    const first = Number.parseInt(machineMac(0).slice(0, 2), 16);
    expect(first & 0b10).toBe(0b10); // locally administered
    expect(first & 0b1).toBe(0); // unicast
    expect(machineMac(0x123456)).toBe('02:62:77:12:34:56');
    expect(new Set([0, 1, 255, 256, 65_536].map(machineMac)).size).toBe(5);
    expect(() => machineMac(2 ** 24)).toThrow(/does not fit/);
  });
});

describe("QEMU's network card", () => {
  it('is a virtio-net device on the existing tap, with the MAC and the address on the kernel command line', () => {
    const args = qemuArgs(spec);
    expect(valueOf(args, '-netdev')).toEqual([`tap,id=net,ifname=${MACHINE_TAP},script=no,downscript=no`]);
    expect(valueOf(args, '-device')).toContain('virtio-net-device,netdev=net,mac=02:62:77:00:00:05');
    expect(valueOf(args, '-append')[0]!.split(' ')).toContain('burrow.net=10.128.4.22/30,10.128.4.21');
  });

  it('is absent from a machine without a network, which QEMU then starts outside any namespace', () => {
    const { network: _, ...offline } = spec;
    const args = qemuArgs(offline);
    expect(args).not.toContain('-netdev');
    expect(valueOf(args, '-append')[0]).not.toContain('burrow.net');
    expect(qemuCommand(offline)).toEqual({ file: 'qemu-system-x86_64', args });
  });

  it("starts QEMU inside the sandbox's namespace, as an argument vector", () => {
    expect(qemuCommand(spec)).toEqual({
      file: 'nsenter',
      args: ['--net=/var/run/netns/burrow-abc-sb1', '--', 'qemu-system-x86_64', ...qemuArgs(spec)],
    });
  });

  it('refuses an address that is not one, rather than adding words to the kernel command line', () => {
    expect(() => netKernelArg({ address: '10.0.0.2 init=/bin/sh', prefix: 30, gateway: '10.0.0.1' })).toThrow(/not an IPv4/);
    expect(() => netKernelArg({ address: '10.0.0.2', prefix: 33, gateway: '10.0.0.1' })).toThrow(/not an IPv4/);
    expect(() => netKernelArg({ address: '10.0.0.2', prefix: 30, gateway: '10.0.0.1,x' })).toThrow(/not an IPv4/);
  });
});

/** Runs shell lines under busybox sh, `busybox` answering /proc/cmdline and recording the rest. */
function runInitLines(lines: string[], cmdline: string): string[] {
  const script = [
    'busybox() {',
    '  case "$1 $2" in',
    '    "cat /proc/cmdline") echo "$CMDLINE" ;;',
    '    "test -e") return 0 ;;',
    '    *) echo "$*" ;;',
    '  esac',
    '}',
    'fail() { echo "fail: $*"; exit 1; }',
    // Never the host's nft: it would change the host's own tables.
    'nft() { echo "nft $*"; while IFS= read -r line; do echo "$line"; done; }',
    ...lines,
  ].join('\n');
  const out = execFileSync('busybox', ['sh', '-c', script], { encoding: 'utf8', env: { CMDLINE: cmdline } });
  return out.split('\n').filter(Boolean);
}

describe("the guest's /init", () => {
  it('configures eth0 from the kernel command line: IPv4 only, address, link, default route through the gateway, localhost redirect', () => {
    const cmdline = `console=ttyS0 quiet ${netKernelArg(link)} panic=-1`;
    expect(runInitLines(guestNetworkLines(), cmdline)).toEqual([
      'sysctl -q -w net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1',
      'ip addr add 10.128.4.22/30 dev eth0',
      'ip link set eth0 up',
      'ip route add default via 10.128.4.21',
      // The host's connections to the guest's address land on its localhost, as in a container.
      'sysctl -q -w net.ipv4.conf.eth0.route_localnet=1',
      'nft -f -',
      'table ip burrow {',
      '  chain prerouting {',
      '    type nat hook prerouting priority dstnat; policy accept;',
      '    iifname "eth0" ip saddr 10.128.4.21 ip daddr 10.128.4.22 meta l4proto tcp dnat to 127.0.0.1',
      '  }',
      '}',
    ]);
  });

  it('leaves the network alone when the machine has none', () => {
    expect(runInitLines([...guestNetworkLines(), ...guestResolverLines()], 'console=ttyS0 quiet panic=-1')).toEqual([]);
  });

  it("points the guest's resolver at the gateway, and brings lo up before anything else", () => {
    const init = initScript(['virtio_net']);
    expect(init).toContain('busybox ip link set lo up\n');
    expect(init.indexOf('ip link set lo up')).toBeLessThan(init.indexOf('agent_port()'));
    expect(init).toContain(guestResolverLines().join('\n'));
    expect(init.indexOf(guestResolverLines().join('\n'))).toBeGreaterThan(init.indexOf('/dev/vda /newroot'));
    expect(guestResolverLines().join('\n')).toContain('"nameserver %s\\noptions edns0\\n" "${net#*,}" > /newroot/etc/resolv.conf');
  });
});

describe("nft in the initramfs", () => {
  it("takes every shared object ldd names, the loader included, and nothing else", () => {
    const ldd = [
      '\tlinux-vdso.so.1 (0x00007ffd1c9f2000)',
      '\tlibnftables.so.1 => /lib/x86_64-linux-gnu/libnftables.so.1 (0x00007f3585f6e000)',
      '\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f3585d52000)',
      '\t/lib64/ld-linux-x86-64.so.2 (0x00007f3586066000)',
    ].join('\n');
    expect(sharedObjectsOf(ldd)).toEqual(['/lib/x86_64-linux-gnu/libnftables.so.1', '/lib/x86_64-linux-gnu/libc.so.6', '/lib64/ld-linux-x86-64.so.2']);
  });

  it('is run by the loader with its own libraries, the initramfs having no loader cache', () => {
    expect(initScript([])).toContain('nft() { /lib/nft/ld-linux-x86-64.so.2 --library-path /lib/nft /lib/nft/nft "$@"; }');
  });
});
