// A sandbox's network, whole: its namespace, its /30 from the pool (recorded in the database),
// the veth pair, its rules in burrow's nftables table, and the files it sees (/etc/resolv.conf
// pointing at burrow's resolver, its policy under /.burrow/policy). Every step is idempotent, so
// boot repairs a half-made network and a restart rebuilds the rules from the database.
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { run } from '../util/run.js';
import { join } from 'node:path';
import type { NetworkRow, NetworkStore } from '../db/networks.js';
import type { AddressPool, Subnet } from './address-pool.js';
import type { HostFirewall } from './firewall.js';
import { ensureMachineLink, machineLinkOf, type MachineLink } from './machine-link.js';
import type { SandboxRuleInput } from './firewall-rules.js';
import type { NetnsManager } from './netns.js';
import type { VethPairs } from './veth.js';

/** Where the policy directory appears inside every sandbox. */
export const POLICY_DIR_INSIDE = '/.burrow/policy';

export interface AttachedNetwork {
  netnsPath: string;
  subnet: Subnet;
  /** Read-only bind mounts for the bundle, keyed by path inside. */
  mounts: Record<string, string>;
}

/** A machine's network: the namespace QEMU runs in (to open the tap) and the files, as a container's. */
export interface AttachedMachineNetwork extends AttachedNetwork {
  /** The tap, the guest's MAC, its address and gateway (passed to it on the kernel command line). */
  link: MachineLink;
}

export interface SandboxNetworkDeps {
  netns: NetnsManager;
  veths: VethPairs;
  firewall: HostFirewall;
  store: NetworkStore;
  pool: AddressPool;
  /** Per-sandbox host directory for resolv.conf and the policy. */
  filesDir: string;
  /** Test hook: called at each named step; kills the daemon when the step was asked for. */
  crashPoint?: (step: string) => void;
}

export class SandboxNetworks {
  constructor(private readonly deps: SandboxNetworkDeps) {}

  /** Everything the sandbox's network needs before its container starts. */
  async attach(sandboxId: string): Promise<AttachedNetwork> {
    const { netns, veths } = this.deps;
    return this.attachWith(sandboxId, (subnet, netnsPath) => veths.ensure(netns.nameFor(sandboxId), netnsPath, subnet));
  }

  /**
   * Everything the sandbox's network needs before its microVM starts: the same host side as a
   * container's, and inside the namespace a bridge to the tap QEMU opens (machine-link.ts).
   * Repairs a half-made network, and turns a container's namespace into a machine's (not back:
   * `detach` first). The guest writes its own /etc/resolv.conf from the kernel command line
   * (runtime/vm/initramfs.ts); the files are copied in at boot (runtime/vm-runtime.ts).
   */
  async attachMachine(sandboxId: string): Promise<AttachedMachineNetwork> {
    const { netns, veths } = this.deps;
    const attached = await this.attachWith(sandboxId, async (subnet, netnsPath) => {
      await veths.ensurePair(netns.nameFor(sandboxId), subnet);
      await ensureMachineLink(netns.nameFor(sandboxId), netnsPath);
    });
    return { ...attached, link: machineLinkOf(attached.subnet) };
  }

  /** The steps of `attach`, with `link` laying out the namespace's side of the veth. */
  private async attachWith(
    sandboxId: string,
    link: (subnet: Subnet, netnsPath: string) => Promise<unknown>,
  ): Promise<AttachedNetwork> {
    const { netns, store, pool } = this.deps;
    const row = store.get(sandboxId) ?? store.allocate(sandboxId, pool.size, await this.freeOnHost());
    this.deps.crashPoint?.('net:allocated');
    const subnet = pool.subnet(row.slot);
    const netnsPath = await netns.ensure(sandboxId);
    await link(subnet, netnsPath);
    this.deps.crashPoint?.('net:veth');
    await this.sync();
    const dir = this.dirOf(sandboxId);
    await mkdir(join(dir, 'policy'), { recursive: true });
    await writeFile(join(dir, 'resolv.conf'), `nameserver ${subnet.gateway}\noptions edns0\n`);
    await this.writePolicyFile(sandboxId, row.policy);
    return {
      netnsPath,
      subnet,
      mounts: { '/etc/resolv.conf': join(dir, 'resolv.conf'), [POLICY_DIR_INSIDE]: join(dir, 'policy') },
    };
  }

  /**
   * Slots whose addresses no other interface of the host has: another burrow instance with an
   * overlapping pool, or any other network, keeps its addresses and this one works around them.
   */
  private async freeOnHost(): Promise<(slot: number) => boolean> {
    const taken = new Set<number>();
    for (const a of await hostAddresses()) {
      if (a.ifname.startsWith(this.deps.veths.prefix)) continue;
      for (const slot of this.deps.pool.slotsOverlapping(a.local, a.prefixlen)) taken.add(slot);
    }
    return (slot) => !taken.has(slot);
  }

  /** Removes rules, veth, namespace, files and the address. Idempotent. */
  async detach(sandboxId: string): Promise<void> {
    const { netns, veths, store } = this.deps;
    const row = store.get(sandboxId);
    if (row) {
      store.release(sandboxId);
      await this.sync();
      await veths.remove(row.slot);
    }
    await netns.remove(sandboxId);
    await rm(this.dirOf(sandboxId), { recursive: true, force: true });
  }

  /** Rebuilds the firewall from the database (start, attach, detach). */
  async sync(): Promise<void> {
    await this.deps.firewall.sync(this.deps.store.all().map((r) => this.ruleInput(r)));
  }

  subnetOf(sandboxId: string): Subnet | undefined {
    const row = this.deps.store.get(sandboxId);
    return row ? this.deps.pool.subnet(row.slot) : undefined;
  }

  /** The sandbox whose address sent a packet, if it is one of ours. */
  sandboxAt(address: string): NetworkRow | undefined {
    const slot = this.deps.pool.slotOfAddress(address);
    if (slot === undefined) return undefined;
    return this.deps.store.all().find((r) => r.slot === slot);
  }

  policyOf(sandboxId: string): string | null {
    return this.deps.store.get(sandboxId)?.policy ?? null;
  }

  /** Stores the policy and applies it live: new rules, learned addresses forgotten. */
  async setPolicy(sandboxId: string, policy: string | null): Promise<void> {
    const row = this.deps.store.get(sandboxId);
    if (!row) throw new Error(`sandbox ${sandboxId} has no network`);
    const updated = this.deps.store.setPolicy(sandboxId, policy);
    await this.deps.firewall.changePolicy(this.ruleInput(updated));
    await this.writePolicyFile(sandboxId, policy);
  }

  /** Sandbox ids that have a namespace, a veth or an address, for the reconciler. */
  async orphans(known: Set<string>): Promise<string[]> {
    const removed: string[] = [];
    for (const row of this.deps.store.all()) {
      if (!known.has(row.sandboxId)) {
        this.deps.store.release(row.sandboxId);
        removed.push(`address of ${row.sandboxId}`);
      }
    }
    const slots = new Set(this.deps.store.all().map((r) => r.slot));
    for (const slot of await this.deps.veths.list()) {
      if (!slots.has(slot)) {
        await this.deps.veths.remove(slot);
        removed.push(`veth ${this.deps.veths.nameFor(slot)}`);
      }
    }
    for (const id of await this.deps.netns.list()) {
      if (!known.has(id)) {
        await this.deps.netns.remove(id);
        await rm(this.dirOf(id), { recursive: true, force: true });
        removed.push(`netns ${id}`);
      }
    }
    await this.sync();
    return removed;
  }

  private ruleInput(row: NetworkRow): SandboxRuleInput {
    const subnet = this.deps.pool.subnet(row.slot);
    return {
      slot: row.slot,
      iface: this.deps.veths.nameFor(row.slot),
      address: subnet.address,
      policed: row.policy !== null,
      generation: row.policyGeneration,
    };
  }

  private dirOf(sandboxId: string): string {
    return join(this.deps.filesDir, sandboxId);
  }

  /** Replaced by rename, so a reader inside never sees half a file. */
  private async writePolicyFile(sandboxId: string, policy: string | null): Promise<void> {
    const dir = join(this.dirOf(sandboxId), 'policy');
    await mkdir(dir, { recursive: true });
    const body = policy === null ? { rules: [] } : JSON.parse(policy);
    await writeFile(join(dir, 'network.json.tmp'), JSON.stringify(body, null, 2) + '\n');
    await rename(join(dir, 'network.json.tmp'), join(dir, 'network.json'));
  }
}

async function hostAddresses(): Promise<Array<{ ifname: string; local: string; prefixlen: number }>> {
  const { stdout } = await run('ip', ['-j', '-4', 'addr', 'show']);
  const links = JSON.parse(stdout) as Array<{ ifname: string; addr_info?: Array<{ local: string; prefixlen: number }> }>;
  return links.flatMap((l) => (l.addr_info ?? []).map((a) => ({ ifname: l.ifname, local: a.local, prefixlen: a.prefixlen })));
}
