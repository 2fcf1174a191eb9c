// Where the proxy may connect on a sandbox's behalf. The proxy runs on the host, so without
// this a sandbox could reach the host's loopback, private networks or a metadata service
// through it; serve.ts gives it the ranges the firewall closes to sandboxes' own packets.
import { BlockList, isIP } from 'node:net';


/** A list of the IPv4 ranges given (the firewall's list, the sandbox pool). */
export function blockedRanges(cidrs: string[]): BlockList {
  const list = new BlockList();
  for (const cidr of cidrs) {
    const [net, bits] = cidr.split('/');
    list.addSubnet(net!, Number(bits), 'ipv4');
  }
  return list;
}

/** Why `address` may not be reached, or null. */
export function blockedReason(list: BlockList, address: string): string | null {
  const family = isIP(address);
  if (!family) return `'${address}' is not an IP address`;
  // IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry; other IPv6 never
  // (sandboxes have no IPv6 egress, and the proxy gives them none).
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (family === 6 && !mapped) return `${address} is IPv6, which sandboxes may not reach`;
  return list.check(mapped ? mapped[1]! : address, 'ipv4') ? `${address} is in a range sandboxes may not reach` : null;
}
