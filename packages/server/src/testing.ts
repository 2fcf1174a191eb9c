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
