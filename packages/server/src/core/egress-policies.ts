// Egress policies of sandboxes (spec §8): stored with the sandbox's network, applied live to its
// firewall chain, and consulted by the DNS resolver for every query a sandbox sends.
import type { AddressRecord } from '../network/dns-message.js';
import type { NetworkPolicy } from '@burrow/protocol';
import { PolicyMatcher } from '../network/dns-policy.js';
import type { DnsClient } from '../network/dns-resolver.js';
import type { HostFirewall } from '../network/firewall.js';
import type { SandboxNetworks } from '../network/sandbox-network.js';
import type { SandboxManager } from './sandbox-manager.js';

/** Learned addresses stay at least this long, whatever the TTL: the connect follows the lookup. */
const MIN_LEARN_SECONDS = 30;
const MAX_LEARN_SECONDS = 24 * 3600;

export class EgressPolicies {
  constructor(
    private readonly manager: SandboxManager,
    private readonly networks: SandboxNetworks,
    private readonly clients: PolicyClients,
  ) {}

  /** The sandbox's policy; `{"rules":[]}` when it has none. */
  get(name: string): NetworkPolicy {
    const record = this.manager.get(name);
    const text = this.networks.policyOf(record.id);
    return text === null ? { rules: [] } : (JSON.parse(text) as NetworkPolicy);
  }

  /** Replaces the policy (no rules: no policy, the public internet is open). Applies live. */
  async set(name: string, policy: NetworkPolicy): Promise<void> {
    await this.manager.withLock(name, async (sandbox) => {
      const record = sandbox.record;
      await this.networks.setPolicy(record.id, policy.rules.length ? JSON.stringify(policy) : null);
      this.clients.forget(record.id);
    });
  }
}

/**
 * The policies as the DNS resolver and the egress proxy see them: by the address a query or
 * connection comes from. Needs no sandbox manager, so both can listen before it exists.
 */
export class PolicyClients {
  private readonly matchers = new Map<string, { policy: string; matcher: PolicyMatcher }>();

  constructor(
    private readonly networks: SandboxNetworks,
    private readonly firewall: HostFirewall,
  ) {}

  /** The resolver's view of the sandbox at `address`. */
  clientAt(address: string): DnsClient | undefined {
    const row = this.networks.sandboxAt(address);
    if (!row) return undefined;
    const { sandboxId, slot, policy } = row;
    return {
      allows: (name) => (policy === null ? null : this.matcherFor(sandboxId, policy).allows(name)),
      learn: (records: AddressRecord[]) =>
        this.firewall.learn(
          slot,
          records.map((r) => ({ ip: r.ip, ttlSeconds: Math.min(MAX_LEARN_SECONDS, Math.max(MIN_LEARN_SECONDS, r.ttl)) })),
        ),
    };
  }

  /** Drops the compiled policy of a sandbox whose policy changed. */
  forget(sandboxId: string): void {
    this.matchers.delete(sandboxId);
  }

  private matcherFor(sandboxId: string, policy: string): PolicyMatcher {
    const cached = this.matchers.get(sandboxId);
    if (cached?.policy === policy) return cached.matcher;
    const matcher = new PolicyMatcher(JSON.parse(policy) as NetworkPolicy);
    this.matchers.set(sandboxId, { policy, matcher });
    return matcher;
  }
}
