// `@burrow/server/testing`: parts of the daemon that tests and benchmarks drive on their own (an
// upstream DNS server or HTTPS site to play, the egress proxy to measure). Not for the CLI.

/** DNS wire helpers, for tests that play an upstream DNS server. */
export { addressReply, emptyReply, parseQuery, RCODE_NXDOMAIN } from './network/dns-message.js';

/** Certificates on the fly, for tests and benchmarks that play an HTTPS upstream. */
export { CertificateAuthority } from './egress/certificate-authority.js';
/** The egress proxy's parts, for the benchmark that measures it against a direct request. */
export { EgressProxy } from './egress/proxy.js';
export { Injector } from './egress/injector.js';
export { Placeholders } from './egress/placeholders.js';
export { TokenizerKeys } from './egress/tokenizer-secrets.js';

/** When a service's log is set aside, for the test that fills one. */
export { LOG_ROTATE_BYTES } from './core/services.js';
export { FIRST_ID_BASE, ID_RANGE_SIZE, shiftOwnership } from './storage/ownership.js';

/** The layers of the `vm` runtime, for the tests that boot guests under TCG. */
export { ensureVmAssets, type VmAssets } from './runtime/vm/vm-assets.js';
export { guestBoots, vmAcceleration } from './runtime/vm/acceleration.js';
export { hostTscKhz, startMachine, stopMachine, type RunningMachine } from './runtime/vm/machine.js';
export { GuestChannel } from './runtime/vm/guest-channel.js';
export { GuestProcess, runInGuest } from './runtime/vm/guest-process.js';
export { Qmp } from './runtime/vm/qmp.js';
export { VmRuntime } from './runtime/vm-runtime.js';
export { MACHINE_NETWORK_ANNOTATION } from './runtime/oci-bundle.js';
export { launch } from './runtime/agent.js';
export { DiskImages, diskLayout } from './storage/disk-images.js';
export { ImageStore } from './storage/images.js';
export { poolLayout } from './storage/pool.js';

/** A sandbox's network built as the daemon builds it, for the test that puts a microVM on it. */
export { openDatabase } from './db/database.js';
export { NetworkStore } from './db/networks.js';
export { SandboxStore } from './db/sandboxes.js';
export { AddressPool } from './network/address-pool.js';
export { DnsResolver } from './network/dns-resolver.js';
export { PolicyClients } from './core/egress-policies.js';
export { HostFirewall } from './network/firewall.js';
export { NetnsManager } from './network/netns.js';
export { SandboxNetworks } from './network/sandbox-network.js';
export type { MachineLink } from './network/machine-link.js';
export { VethPairs, vethPrefix } from './network/veth.js';
