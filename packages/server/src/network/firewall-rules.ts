// The nftables ruleset of one burrow instance, as text for `nft -f`: a pure function of the
// sandboxes' networks, so that it can be rebuilt from the database at any time and tested
// without a kernel. Everything lives in burrow's own table (`inet burrow-<tag>`); nothing here
// touches another table or flushes the global ruleset.
//
// Traffic from a sandbox's veth goes one of two ways:
// - to the host itself (input hook): dropped, except replies and burrow's own services on the
//   gateway address (the DNS resolver, and whatever `GatewayService` is added, like an egress
//   proxy), which sandboxes reach through a redirect of their usual port;
// - through the host (forward hook): dropped to private, loopback, link-local, CGNAT, multicast
//   and reserved ranges and to other sandboxes; then each sandbox's own chain applies its egress
//   policy: with none, anything public goes; with one, only addresses its DNS answers taught.
// Connections from outside into a sandbox are dropped; the host itself reaches sandboxes (the
// URL and TCP proxies) because output traffic is not filtered here.

export interface GatewayService {
  /** For comments in the ruleset only. */
  name: string;
  protocols: Array<'tcp' | 'udp'>;
  /** The daemon's port, on every gateway address. */
  port: number;
  /** Sandbox traffic to these destination ports (any address) is redirected to `port`. */
  redirectFrom?: number[];
  /**
   * Redirect only traffic the firewall would let out anyway: never to blocked ranges and, under
   * a policy, only to learned addresses (the egress proxy; the rest is dropped as before).
   */
  onlyWhereAllowed?: boolean;
}

export interface SandboxRuleInput {
  slot: number;
  iface: string;
  address: string;
  /** Only addresses learned from allowed DNS answers may be reached. */
  policed: boolean;
  /** Marks connections admitted under the current policy; bumped when the policy changes. */
  generation: number;
}

export interface RulesetInput {
  table: string;
  /** Prefix every sandbox veth name of this instance starts with. */
  ifacePrefix: string;
  pool: string;
  services: GatewayService[];
  sandboxes: SandboxRuleInput[];
  /** Sandbox chains and sets present in the kernel that no sandbox owns any more. */
  staleSlots: number[];
}

/** Destinations no sandbox may reach through the host (the host's own addresses are input). */
export const BLOCKED_RANGES = [
  '0.0.0.0/8', // "this network"
  '10.0.0.0/8', // RFC 1918
  '100.64.0.0/10', // CGNAT
  '127.0.0.0/8', // loopback
  '169.254.0.0/16', // link-local, cloud metadata (169.254.169.254)
  '172.16.0.0/12', // RFC 1918
  '192.0.0.0/24', // IETF protocol assignments
  '192.168.0.0/16', // RFC 1918
  '224.0.0.0/4', // multicast
  '240.0.0.0/4', // reserved, broadcast
];

export const chainOf = (slot: number) => `sb_${slot}`;
export const allowSetOf = (slot: number) => `allow_${slot}`;
export const preChainOf = (slot: number) => `pre_${slot}`;

const q = (s: string) => JSON.stringify(s);

/** One atomic transaction that makes the table exactly match `input`, keeping learned addresses. */
export function rulesetScript(input: RulesetInput): string {
  const t = `inet ${input.table}`;
  const ifs = q(`${input.ifacePrefix}*`);
  const lines: string[] = [
    `add table ${t}`,
    `add chain ${t} input { type filter hook input priority 0; policy accept; }`,
    `add chain ${t} forward { type filter hook forward priority 0; policy accept; }`,
    `add chain ${t} prerouting { type nat hook prerouting priority dstnat; policy accept; }`,
    `add chain ${t} postrouting { type nat hook postrouting priority srcnat; policy accept; }`,
    `add chain ${t} sandbox_to_host`,
    `add chain ${t} sandbox_out`,
    `add set ${t} blocked { type ipv4_addr; flags interval; auto-merge; }`,
    `add map ${t} sandboxes { type ifname . ipv4_addr : verdict; }`,
  ];
  for (const s of input.sandboxes) {
    lines.push(`add set ${t} ${allowSetOf(s.slot)} { type ipv4_addr; flags timeout; }`);
    lines.push(`add chain ${t} ${chainOf(s.slot)}`);
    lines.push(`add chain ${t} ${preChainOf(s.slot)}`);
  }
  // Flush what the rest rebuilds; the map goes first so that stale chains lose their last user.
  lines.push(`flush map ${t} sandboxes`);
  for (const chain of ['input', 'forward', 'prerouting', 'postrouting', 'sandbox_to_host', 'sandbox_out']) {
    lines.push(`flush chain ${t} ${chain}`);
  }
  lines.push(`flush set ${t} blocked`);
  for (const slot of input.staleSlots) {
    // pre_N is added first: a table made before it existed has none to delete.
    lines.push(`add chain ${t} ${preChainOf(slot)}`, `delete chain ${t} ${preChainOf(slot)}`);
    lines.push(`delete chain ${t} ${chainOf(slot)}`, `delete set ${t} ${allowSetOf(slot)}`);
  }

  // Input: sandboxes reach only burrow's services; those services answer only sandboxes.
  lines.push(`add rule ${t} input iifname ${ifs} jump sandbox_to_host`);
  for (const svc of input.services) {
    lines.push(`add rule ${t} input iifname != "lo" meta l4proto { ${svc.protocols.join(', ')} } th dport ${svc.port} drop comment ${q(`${svc.name}: sandboxes only`)}`);
  }
  lines.push(`add rule ${t} sandbox_to_host ct state established,related accept`);
  lines.push(`add rule ${t} sandbox_to_host meta nfproto ipv6 drop`);
  for (const svc of input.services) {
    lines.push(`add rule ${t} sandbox_to_host meta l4proto { ${svc.protocols.join(', ')} } th dport ${svc.port} accept comment ${q(svc.name)}`);
  }
  lines.push(`add rule ${t} sandbox_to_host drop`);

  // Redirects of well-known ports to burrow's services on the sandbox's gateway address.
  for (const svc of input.services.filter((x) => !x.onlyWhereAllowed)) {
    for (const from of svc.redirectFrom ?? []) {
      lines.push(`add rule ${t} prerouting iifname ${ifs} meta l4proto { ${svc.protocols.join(', ')} } th dport ${from} redirect to :${svc.port} comment ${q(svc.name)}`);
    }
  }

  // Forward: out of sandboxes through the policy; into sandboxes only replies.
  lines.push(`add rule ${t} forward iifname ${ifs} jump sandbox_out`);
  lines.push(`add rule ${t} forward oifname ${ifs} ct state established,related accept`);
  lines.push(`add rule ${t} forward oifname ${ifs} drop`);
  lines.push(`add rule ${t} sandbox_out meta nfproto ipv6 drop`);
  lines.push(`add rule ${t} sandbox_out ip daddr @blocked drop`);
  // A source address that is not the one of its veth is spoofed: no chain, dropped.
  lines.push(`add rule ${t} sandbox_out iifname . ip saddr vmap @sandboxes`);
  lines.push(`add rule ${t} sandbox_out drop`);
  lines.push(`add element ${t} blocked { ${[...BLOCKED_RANGES, input.pool].join(', ')} }`);

  for (const s of input.sandboxes) {
    lines.push(`add rule ${t} prerouting iifname ${q(s.iface)} jump ${preChainOf(s.slot)}`);
    lines.push(`flush chain ${t} ${preChainOf(s.slot)}`);
    lines.push(...sandboxRedirectRules(t, s, input.services));
    lines.push(`flush chain ${t} ${chainOf(s.slot)}`);
    lines.push(...sandboxChainRules(t, s));
    lines.push(`add element ${t} sandboxes { ${q(s.iface)} . ${s.address} : jump ${chainOf(s.slot)} }`);
  }

  lines.push(`add rule ${t} postrouting iifname ${ifs} oifname != ${ifs} masquerade`);
  return lines.join('\n') + '\n';
}

/** The rules of one sandbox's chain (`t` is `inet <table>`). */
export function sandboxChainRules(t: string, s: SandboxRuleInput): string[] {
  const chain = chainOf(s.slot);
  const rules = [`add rule ${t} ${chain} ct state established,related ct mark ${s.generation} accept`];
  if (s.policed) rules.push(`add rule ${t} ${chain} ip daddr != @${allowSetOf(s.slot)} drop`);
  rules.push(`add rule ${t} ${chain} ct mark set ${s.generation} accept`);
  return rules;
}

/** One sandbox's redirects of services that only take traffic the firewall would let out. */
export function sandboxRedirectRules(t: string, s: SandboxRuleInput, services: GatewayService[]): string[] {
  const guarded = services.filter((svc) => svc.onlyWhereAllowed && svc.redirectFrom?.length);
  if (!guarded.length) return [];
  const chain = preChainOf(s.slot);
  const rules = [`add rule ${t} ${chain} ip daddr @blocked return`];
  if (s.policed) rules.push(`add rule ${t} ${chain} ip daddr != @${allowSetOf(s.slot)} return`);
  for (const svc of guarded) {
    const ports = svc.redirectFrom!.join(', ');
    rules.push(`add rule ${t} ${chain} meta l4proto { ${svc.protocols.join(', ')} } th dport { ${ports} } redirect to :${svc.port} comment ${q(svc.name)}`);
  }
  return rules;
}

/** A new policy, live: learned addresses and the old generation's connections are forgotten. */
export function policyChangeScript(table: string, s: SandboxRuleInput, services: GatewayService[] = []): string {
  const t = `inet ${table}`;
  return [
    `flush set ${t} ${allowSetOf(s.slot)}`,
    `flush chain ${t} ${chainOf(s.slot)}`,
    ...sandboxChainRules(t, s),
    `add chain ${t} ${preChainOf(s.slot)}`,
    `flush chain ${t} ${preChainOf(s.slot)}`,
    ...sandboxRedirectRules(t, s, services),
  ].join('\n') + '\n';
}

/** Addresses an allowed DNS answer taught one sandbox, each for its TTL. */
export function learnScript(table: string, slot: number, entries: Array<{ ip: string; ttlSeconds: number }>): string {
  const t = `inet ${table}`;
  const set = allowSetOf(slot);
  // add (so that delete cannot fail), delete, add: the one way to renew an element's timeout.
  const elems = (withTimeout: boolean) =>
    entries.map((e) => (withTimeout ? `${e.ip} timeout ${e.ttlSeconds}s` : e.ip)).join(', ');
  return [
    `add element ${t} ${set} { ${elems(true)} }`,
    `delete element ${t} ${set} { ${elems(false)} }`,
    `add element ${t} ${set} { ${elems(true)} }`,
  ].join('\n') + '\n';
}
