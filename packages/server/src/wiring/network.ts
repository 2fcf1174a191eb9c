// The network stage of `burrow serve`: sandbox networks, the host firewall, the DNS resolver.
import { join } from 'node:path';
import type { Target } from '../api/urls/http-forward.js';
import type { BurrowConfig } from '../config.js';
import { HOST_PID_MAX, raisePidMax } from '../host/pid-space.js';
import { PolicyClients } from '../core/egress-policies.js';
import { NetworkStore } from '../db/networks.js';
import { AddressPool } from '../network/address-pool.js';
import { DnsResolver, parseUpstream } from '../network/dns-resolver.js';
import { enableIpv4Forwarding, HostFirewall } from '../network/firewall.js';
import { NetnsManager } from '../network/netns.js';
import { SandboxNetworks } from '../network/sandbox-network.js';
import { VethPairs, vethPrefix } from '../network/veth.js';
import type { Host } from './host.js';
import type { Storage, Observed } from './storage.js';

export interface Network {
  netns: NetnsManager;
  firewall: HostFirewall;
  networks: SandboxNetworks;
  policies: PolicyClients;
  resolver: DnsResolver;
  /** Where the host reaches a port of a sandbox (its localhost inside). */
  targetIn: (sandboxId: string, port: number) => Target | undefined;
}

/** Sandbox networks, the host firewall, and the DNS resolver that applies egress policies. */
export async function startNetwork(config: BurrowConfig, { log, crashPoint }: Host, { db }: Storage, { metrics }: Observed): Promise<Network> {
  const netns = new NetnsManager(`burrow-${config.instanceTag}-`);
  const addressPool = new AddressPool(config.network.pool);
  const firewall = new HostFirewall(`burrow-${config.instanceTag}`, vethPrefix(config.instanceTag), addressPool.cidr);
  const networks = new SandboxNetworks({
    netns,
    veths: new VethPairs(vethPrefix(config.instanceTag)),
    firewall,
    store: new NetworkStore(db),
    pool: addressPool,
    filesDir: join(config.home, 'network'),
    crashPoint,
  });
  const policies = new PolicyClients(networks, firewall);
  const resolver = new DnsResolver(
    parseUpstream(config.network.dnsUpstream),
    (address) => policies.clientAt(address),
    log,
    () => metrics.proxyRefused('dns_policy'),
  );
  const dnsPort = await resolver.start();
  firewall.addGatewayService({ name: 'dns', protocols: ['udp', 'tcp'], port: dnsPort, redirectFrom: [53] });
  if (await enableIpv4Forwarding()) log('enabled IPv4 forwarding (net.ipv4.ip_forward=1) for sandbox egress');
  const oldPidMax = await raisePidMax();
  if (oldPidMax !== null) log(`raised kernel.pid_max from ${oldPidMax} to ${HOST_PID_MAX}: sandboxes' process limits must not add up to the host's`);
  const targetIn = (sandboxId: string, port: number) => {
    const subnet = networks.subnetOf(sandboxId);
    return subnet && { host: subnet.address, port };
  };
  return { netns, firewall, networks, policies, resolver, targetIn };
}
