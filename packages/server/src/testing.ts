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
export { launch } from './runtime/agent.js';
export { DiskImages, diskLayout } from './storage/disk-images.js';
export { ImageStore } from './storage/images.js';
export { poolLayout } from './storage/pool.js';
