// What the egress feature adds to every sandbox's boot: trust in the proxy's CA, its
// placeholders (files and environment variables), and forgetting its grants when it goes.
import type { SandboxTrust } from '../egress/sandbox-trust.js';
import type { SandboxHooks } from './sandbox-hooks.js';
import { SECRETS_INSIDE, type Secrets } from './secrets.js';

/**
 * `proxyUrl` is the egress proxy's explicit-proxy address as the sandbox reaches it (its
 * gateway), offered as BURROW_EGRESS_PROXY for HTTP_PROXY-style clients and tokenizer clients.
 */
export function egressHooks(secrets: Secrets, trust: SandboxTrust, proxyUrl: (sandboxId: string) => string | undefined): Partial<SandboxHooks> {
  return {
    bootMounts: async (record, imagePath) => ({
      ...(await trust.mounts(imagePath)),
      [SECRETS_INSIDE]: await secrets.filesOf(record.id),
    }),
    environment: (record) => {
      const url = proxyUrl(record.id);
      return { ...trust.environment(), ...(url ? { BURROW_EGRESS_PROXY: url } : {}), ...secrets.environmentOf(record.id) };
    },
    tornDown: (sandboxId) => secrets.forget(sandboxId),
  };
}
