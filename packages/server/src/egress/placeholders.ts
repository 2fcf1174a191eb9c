// Placeholders: what a sandbox holds instead of a secret. A placeholder is `burrow_ph_` and a
// macaroon (libmacaroons v2, base64url) whose identifier is a grant id, minted with the egress
// root key (not the API tokens' key, so neither can stand in for the other). Code in the
// sandbox may add caveats offline; the proxy honours every one and refuses unknown ones.
import { listValue, MacaroonFormatError, mintMacaroon, parseMacaroon, serializeMacaroon, signatureValid } from '@burrow/protocol';
import { firstFailingCaveat, validityChecks } from '../auth/caveats.js';

export const PLACEHOLDER_PREFIX = 'burrow_ph_';
export const PLACEHOLDER_LOCATION = 'burrow-egress';
/** Finds placeholders inside header values (`Bearer burrow_ph_...`, `token=burrow_ph_...`). */
export const PLACEHOLDER_PATTERN = /burrow_ph_([A-Za-z0-9_-]+)/g;

/** What the request carrying a placeholder is, for the caveats to judge. */
export interface UseContext {
  /** The sandbox the connection comes from (by its address), if any. */
  sandboxId: string | null;
  host: string;
  method: string;
  path: string;
  now: number;
}

export interface PlaceholderGrant {
  id: string;
  secret: string;
  sandboxId: string;
  sandbox: string;
  revoked: boolean;
}

export class PlaceholderRefused extends Error {}

export class Placeholders {
  constructor(
    private readonly rootKey: Buffer,
    private readonly grantOf: (id: string) => PlaceholderGrant | undefined,
  ) {}

  mint(grantId: string, caveats: string[]): string {
    return PLACEHOLDER_PREFIX + serializeMacaroon(mintMacaroon(this.rootKey, grantId, PLACEHOLDER_LOCATION, caveats));
  }

  /** The grant the placeholder stands for, once its chain, binding and every caveat hold. */
  verify(body: string, use: UseContext): PlaceholderGrant {
    let macaroon;
    try {
      macaroon = parseMacaroon(body);
    } catch (e) {
      if (e instanceof MacaroonFormatError) throw new PlaceholderRefused(`malformed placeholder (${e.message})`);
      throw e;
    }
    if (!signatureValid(macaroon, this.rootKey)) throw new PlaceholderRefused('placeholder signature is not valid');
    const grant = this.grantOf(macaroon.identifier.toString('utf8'));
    if (!grant) throw new PlaceholderRefused('placeholder names no grant');
    if (grant.revoked) throw new PlaceholderRefused(`the grant of '${grant.secret}' to '${grant.sandbox}' was revoked`);
    if (use.sandboxId !== grant.sandboxId) {
      throw new PlaceholderRefused(`placeholder for '${grant.secret}' is bound to sandbox '${grant.sandbox}' and was used from elsewhere`);
    }
    const failing = firstFailingCaveat(macaroon.caveats, {
      ...validityChecks(use.now),
      sandbox: (v) => (v === grant.sandbox ? null : 'another sandbox'),
      secret: (v) => (v === grant.secret ? null : 'another secret'),
      host: (v) => (listValue(v).some((h) => hostMatches(h, use.host)) ? null : `host is ${use.host}`),
      method: (v) => (listValue(v).map((m) => m.toUpperCase()).includes(use.method.toUpperCase()) ? null : `method is ${use.method}`),
      'path-prefix': (v) => (use.path.startsWith(v) ? null : `path is ${use.path}`),
    });
    if (failing) throw new PlaceholderRefused(`placeholder for '${grant.secret}': ${failing}`);
    return grant;
  }
}

/** `api.example.com` matches itself; `*.example.com` matches any name below example.com. */
export function hostMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase().replace(/\.$/, '');
  if (p.startsWith('*.')) return h.endsWith(p.slice(1)) && h.length > p.length - 1;
  return p === h;
}
