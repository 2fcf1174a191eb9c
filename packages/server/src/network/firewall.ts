// Applies burrow's nftables table (see firewall-rules.ts) to the kernel: a full, atomic rebuild
// from the database on start and whenever sandboxes come or go, a live policy swap, and the
// addresses the DNS resolver learns. One `nft -f` transaction per change, one change at a time.
import { readFile, writeFile } from 'node:fs/promises';
import { run } from '../util/run.js';
import {
  allowSetOf,
  learnScript,
  policyChangeScript,
  rulesetScript,
  type GatewayService,
  type SandboxRuleInput,
} from './firewall-rules.js';

export class HostFirewall {
  private readonly services = new Map<string, GatewayService>();
  private tail: Promise<unknown> = Promise.resolve();

  constructor(
    readonly table: string,
    readonly ifacePrefix: string,
    private readonly pool: string,
  ) {}

  /**
   * Declares a service of burrow's on every gateway address (the DNS resolver; an egress proxy).
   * Takes effect at the next `sync`.
   */
  addGatewayService(service: GatewayService): void {
    this.services.set(service.name, service);
  }

  /** Makes the table match exactly these sandboxes, keeping what their sets learned. */
  async sync(sandboxes: SandboxRuleInput[]): Promise<void> {
    await this.serially(async () => {
      const present = await this.presentSlots();
      const wanted = new Set(sandboxes.map((s) => s.slot));
      const script = rulesetScript({
        table: this.table,
        ifacePrefix: this.ifacePrefix,
        pool: this.pool,
        services: [...this.services.values()],
        sandboxes,
        staleSlots: present.filter((slot) => !wanted.has(slot)),
      });
      await nft(script);
    });
  }

  async changePolicy(sandbox: SandboxRuleInput): Promise<void> {
    await this.serially(() => nft(policyChangeScript(this.table, sandbox, [...this.services.values()])));
  }

  async learn(slot: number, entries: Array<{ ip: string; ttlSeconds: number }>): Promise<void> {
    if (!entries.length) return;
    await this.serially(() => nft(learnScript(this.table, slot, entries)));
  }

  /** Addresses a sandbox may reach now (under a policy), for tests and `burrow policy get`. */
  async learned(slot: number): Promise<string[]> {
    const { stdout } = await run('nft', ['-j', 'list', 'set', 'inet', this.table, allowSetOf(slot)]);
    const parsed = JSON.parse(stdout) as { nftables: Array<{ set?: { elem?: Array<string | { elem: { val: string } }> } }> };
    const elems = parsed.nftables.find((e) => e.set)?.set?.elem ?? [];
    return elems.map((e) => (typeof e === 'string' ? e : e.elem.val));
  }

  /** nft transactions are atomic, but a sync computed from a stale listing must not interleave. */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn);
    this.tail = result.catch(() => {});
    return result;
  }

  async removeTable(): Promise<void> {
    await this.serially(async () => {
      if (await this.exists()) await run('nft', ['delete', 'table', 'inet', this.table]);
    });
  }

  async exists(): Promise<boolean> {
    const { stdout } = await run('nft', ['-j', 'list', 'tables', 'inet']);
    const parsed = JSON.parse(stdout) as { nftables: Array<{ table?: { name: string } }> };
    return parsed.nftables.some((e) => e.table?.name === this.table);
  }

  /** Slots that have a chain in the kernel's copy of the table. */
  private async presentSlots(): Promise<number[]> {
    if (!(await this.exists())) return [];
    const { stdout } = await run('nft', ['-j', 'list', 'table', 'inet', this.table]);
    const parsed = JSON.parse(stdout) as { nftables: Array<{ chain?: { name: string } }> };
    return parsed.nftables
      .map((e) => /^sb_(\d+)$/.exec(e.chain?.name ?? ''))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]));
  }
}

async function nft(script: string): Promise<void> {
  await run('nft', ['-f', '-'], { input: script, timeoutMs: 30_000 });
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/**
 * Sandboxes reach the internet through the host, which must route. This is host-wide (like
 * Docker, which does the same); burrow's forward chain keeps it to sandboxes' own traffic.
 * Returns whether it had to be switched on.
 */
export async function enableIpv4Forwarding(): Promise<boolean> {
  if ((await readFile(IP_FORWARD, 'utf8')).trim() === '1') return false;
  await writeFile(IP_FORWARD, '1\n');
  return true;
}
