// The egress stage of `burrow serve`: the CA, secrets and the credential-injecting proxy.
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureKeyFile } from '../auth/root-key.js';
import type { BurrowConfig } from '../config.js';
import { placeholderGrantOf, Secrets } from '../core/secrets.js';
import { CertificateAuthority } from '../egress/certificate-authority.js';
import { blockedRanges } from '../egress/destinations.js';
import { Injector } from '../egress/injector.js';
import { Placeholders } from '../egress/placeholders.js';
import { EgressProxy } from '../egress/proxy.js';
import { SandboxTrust } from '../egress/sandbox-trust.js';
import { SecretSealer } from '../egress/secret-sealing.js';
import { TokenizerKeys } from '../egress/tokenizer-secrets.js';
import { dnsServerLookup } from '../egress/upstream-lookup.js';
import { parseUpstream } from '../network/dns-resolver.js';
import { BLOCKED_RANGES } from '../network/firewall-rules.js';
import type { Host } from './host.js';
import type { Network } from './network.js';
import type { Storage, Observed } from './storage.js';

export interface Egress {
  ca: CertificateAuthority;
  trust: SandboxTrust;
  secrets: Secrets;
  tokenizer: TokenizerKeys;
  proxy: EgressProxy;
  /** The proxy's explicit-proxy address as the sandbox reaches it (its gateway). */
  proxyUrlOf: (sandboxId: string) => string | undefined;
}

/**
 * The CA sandboxes trust, secrets sealed at rest, placeholders minted with their own key, and
 * the egress proxy that injects them: sandboxes' TCP 80 and 443 are redirected to it on their
 * gateway address (only where the firewall would let the traffic out anyway), or they use it
 * explicitly. It listens before any sandbox boots.
 */
export async function startEgress(config: BurrowConfig, { paths }: Host, { store, secretStore }: Storage, { metrics }: Observed, network: Network): Promise<Egress> {
  const { networks, firewall, policies } = network;
  await mkdir(paths.egress, { recursive: true, mode: 0o700 });
  const ca = await CertificateAuthority.open(join(paths.egress, 'ca'));
  const trust = new SandboxTrust(join(paths.egress, 'trust'), ca.certPem);
  await trust.prepare();
  const placeholders = new Placeholders(await ensureKeyFile(join(paths.egress, 'placeholder.key')), placeholderGrantOf(secretStore));
  const secrets = new Secrets({
    store: secretStore,
    sealer: new SecretSealer(await ensureKeyFile(join(paths.egress, 'secrets.key'))),
    placeholders,
    sandboxes: store,
    filesDir: join(paths.egress, 'grants'),
  });
  const tokenizer = await TokenizerKeys.open(join(paths.egress, 'tokenizer.key'));
  const dnsUpstream = parseUpstream(config.network.dnsUpstream);
  const proxy = new EgressProxy({
    ca,
    injector: new Injector(placeholders, (name) => secrets.secretForUse(name), tokenizer),
    // A connection is a sandbox's when it comes from its address to its own gateway.
    identify: (remote, local) => {
      const row = networks.sandboxAt(remote);
      const record = row && store.byId(row.sandboxId);
      if (!row || !record || networks.subnetOf(row.sandboxId)?.gateway !== local) return null;
      return { id: record.id, name: record.name, address: remote };
    },
    policyRefusal: (sandbox, host) =>
      sandbox && policies.clientAt(sandbox.address)?.allows(host) === false ? `the egress policy of '${sandbox.name}' does not allow ${host}` : null,
    blocked: blockedRanges([...BLOCKED_RANGES, config.network.pool]),
    audit: (event) => secretStore.audit({ ...event, at: new Date().toISOString() }),
    counters: { injected: () => metrics.proxyInjected(), refused: (reason) => metrics.proxyRefused(reason) },
    ...(config.network.dnsUpstream ? { lookup: dnsServerLookup(dnsUpstream) } : {}),
    ...(config.egress.upstreamCaFile ? { upstreamCa: [await readFile(config.egress.upstreamCaFile, 'utf8')] } : {}),
  });
  const proxyPort = await proxy.start(config.egress.proxyPort);
  firewall.addGatewayService({ name: 'egress-proxy', protocols: ['tcp'], port: proxyPort, redirectFrom: [80, 443], onlyWhereAllowed: true });
  const proxyUrlOf = (sandboxId: string) => {
    const subnet = networks.subnetOf(sandboxId);
    return subnet && `http://${subnet.gateway}:${proxyPort}`;
  };
  return { ca, trust, secrets, tokenizer, proxy, proxyUrlOf };
}
