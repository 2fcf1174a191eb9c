// The sandbox address pool: an IPv4 CIDR cut into /30s, one per sandbox. Slot i is the i-th /30:
// its first host address is the gateway (the host's end of the veth), the second the sandbox's.

export interface Subnet {
  slot: number;
  /** Host end of the veth pair. */
  gateway: string;
  /** Sandbox end (eth0 inside the namespace). */
  address: string;
  /** Always 30. */
  prefix: 30;
}

export class AddressPool {
  readonly base: number;
  readonly prefix: number;

  constructor(readonly cidr: string) {
    const m = /^(\d{1,3}(?:\.\d{1,3}){3})\/(\d{1,2})$/.exec(cidr.trim());
    const prefix = m ? Number(m[2]) : NaN;
    if (!m || !(prefix >= 8 && prefix <= 30)) throw new Error(`the network pool must be an IPv4 CIDR from /8 to /30, got '${cidr}'`);
    const base = ipToInt(m[1]!);
    const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
    if ((base & mask) >>> 0 !== base) throw new Error(`the network pool ${cidr} has host bits set`);
    this.base = base;
    this.prefix = prefix;
  }

  /** How many sandboxes the pool holds. */
  get size(): number {
    return 2 ** (32 - this.prefix) / 4;
  }

  subnet(slot: number): Subnet {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.size) throw new Error(`slot ${slot} is outside the pool ${this.cidr}`);
    const net = this.base + slot * 4;
    return { slot, gateway: intToIp(net + 1), address: intToIp(net + 2), prefix: 30 };
  }

  /** Slots whose /30 overlaps `ip/prefix` (an address the host already has elsewhere). */
  slotsOverlapping(ip: string, prefix: number): number[] {
    const n = safeIpToInt(ip);
    if (n === undefined || prefix < 0 || prefix > 32) return [];
    const size = 2 ** (32 - prefix);
    const start = Math.floor(n / size) * size;
    const first = Math.max(0, Math.floor((start - this.base) / 4));
    const last = Math.min(this.size - 1, Math.floor((start + size - 1 - this.base) / 4));
    const out: number[] = [];
    for (let slot = first; slot <= last; slot++) out.push(slot);
    return out;
  }

  /** The slot whose sandbox address is `ip`, if any. */
  slotOfAddress(ip: string): number | undefined {
    const n = safeIpToInt(ip);
    if (n === undefined) return undefined;
    const offset = n - this.base;
    if (offset < 0 || offset >= this.size * 4 || offset % 4 !== 2) return undefined;
    return (offset - 2) / 4;
  }
}

export function ipToInt(ip: string): number {
  const n = safeIpToInt(ip);
  if (n === undefined) throw new Error(`not an IPv4 address: '${ip}'`);
  return n;
}

function safeIpToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}
