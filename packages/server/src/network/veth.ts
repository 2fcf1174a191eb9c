// The veth pair between the host and a sandbox's namespace: the host end is named
// `bw<tag><slot>` (Linux allows 15 characters; the tag keeps instances apart), the sandbox end is
// `eth0`. Inside, IPv6 is off, and TCP connections from the host (the URL and TCP proxies) are
// redirected to 127.0.0.1, so services that listen only on localhost are reachable too.
import { readdir } from 'node:fs/promises';
import { run, succeeds } from '../util/run.js';
import type { Subnet } from './address-pool.js';

const IFNAMSIZ = 15;

/** Namespace sysctls: the sandbox's network is IPv4 only (the host's rules drop IPv6). */
export const NO_IPV6 = ['net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'];

/** Host ends of one instance's pairs start with this. */
export const vethPrefix = (instanceTag: string) => `bw${instanceTag}`;

export class VethPairs {
  constructor(readonly prefix: string) {
    if (prefix.length > IFNAMSIZ - 4) throw new Error(`interface prefix '${prefix}' leaves no room for a slot`);
  }

  nameFor(slot: number): string {
    const name = `${this.prefix}${slot.toString(36)}`;
    if (name.length > IFNAMSIZ) throw new Error(`interface name ${name} is longer than ${IFNAMSIZ} characters`);
    return name;
  }

  /** Creates or repairs the pair and its addresses; what already exists is kept. */
  async ensure(netnsName: string, netnsPath: string, subnet: Subnet): Promise<string> {
    const host = await this.ensurePair(netnsName, subnet);
    await run('ip', ['-n', netnsName, '-batch', '-'], {
      input: [
        `addr replace ${subnet.address}/30 dev eth0`,
        'link set eth0 up',
        'link set lo up',
        `route replace default via ${subnet.gateway}`,
      ].join('\n') + '\n',
    });
    await run('nsenter', [
      `--net=${netnsPath}`, 'sysctl', '-q', '-w',
      ...NO_IPV6,
      'net.ipv4.conf.eth0.route_localnet=1',
    ]);
    await run('nsenter', [`--net=${netnsPath}`, 'nft', '-f', '-'], { input: localRedirect(subnet) });
    return host;
  }

  /**
   * The pair alone, and the gateway's address on its host end; the sandbox end (`eth0` in the
   * namespace) is left for a container's or a machine's layout. Repairs a half-made pair.
   */
  async ensurePair(netnsName: string, subnet: Subnet): Promise<string> {
    const host = this.nameFor(subnet.slot);
    const complete = (await this.exists(host)) && (await succeeds('ip', ['-n', netnsName, 'link', 'show', 'eth0']));
    if (!complete) {
      // Half-made (a crash between the two ends): start this pair over.
      await this.remove(subnet.slot);
      await run('ip', ['-n', netnsName, 'link', 'delete', 'eth0'], { okCodes: [1] });
      await run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netnsName]);
    }
    await run('ip', ['-batch', '-'], {
      input: [`addr replace ${subnet.gateway}/30 dev ${host}`, `link set ${host} up`].join('\n') + '\n',
    });
    return host;
  }

  async remove(slot: number): Promise<void> {
    const host = this.nameFor(slot);
    try {
      if (await this.exists(host)) await run('ip', ['link', 'delete', host], { okCodes: [1] });
    } catch (e) {
      // Deleting the sandbox's namespace takes the pair with it, in the kernel's own time: a
      // link gone between the check and the delete is removed all the same.
      if (await this.exists(host)) throw e;
    }
  }

  /** Host ends of this instance's pairs, by slot. */
  async list(): Promise<number[]> {
    const names = await readdir('/sys/class/net').catch(() => [] as string[]);
    return names.filter((n) => n.startsWith(this.prefix)).map((n) => parseInt(n.slice(this.prefix.length), 36));
  }

  private async exists(name: string): Promise<boolean> {
    return (await readdir('/sys/class/net').catch(() => [] as string[])).includes(name);
  }
}

/** Inside the namespace: the host's connections to the sandbox's address land on 127.0.0.1. */
function localRedirect(subnet: Subnet): string {
  return [
    'table ip burrow',
    'delete table ip burrow',
    'table ip burrow {',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    `    iifname "eth0" ip saddr ${subnet.gateway} ip daddr ${subnet.address} meta l4proto tcp dnat to 127.0.0.1`,
    '  }',
    '}',
  ].join('\n') + '\n';
}
