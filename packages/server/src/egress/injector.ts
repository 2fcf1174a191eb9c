// The decision for one request: which headers go upstream. Placeholders (burrow's macaroons)
// and Proxy-Tokenizer sealed secrets are verified and replaced by the real credential; a
// request carrying any credential that does not verify for this exact use is refused whole.
import { PLACEHOLDER_PATTERN, PlaceholderRefused, hostMatches, type Placeholders, type UseContext } from './placeholders.js';
import { TokenizerRefused, type Injection, type TokenizerKeys } from './tokenizer-secrets.js';

/** What the injector needs of a secret: only ever read inside the proxy. */
export interface SecretForUse {
  hosts: string[];
  /** `Header: template` with `{}` standing for the value. */
  inject: string;
  value: string;
}

export type Decision =
  | { kind: 'forward'; headers: Array<[string, string]>; used: string[]; injected: boolean }
  | { kind: 'refuse'; status: number; reason: string; secret: string | null };

/** Headers that belong to one hop (RFC 9110 7.6.1) or to the proxy itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'proxy-tokenizer',
]);

export class Injector {
  constructor(
    private readonly placeholders: Placeholders,
    private readonly secretFor: (name: string) => SecretForUse | undefined,
    private readonly tokenizer: TokenizerKeys,
  ) {}

  /**
   * `rawHeaders` as Node gives them (name, value, name, value...); `use` is where the request
   * is going and where it comes from. `keep` lists hop-by-hop headers to keep (an upgrade).
   */
  decide(rawHeaders: string[], use: UseContext, keep: string[] = []): Decision {
    const out: Array<[string, string]> = [];
    const injections: Injection[] = [];
    const used: string[] = [];
    let proxyAuthorization: string | undefined;
    const sealed: string[] = [];

    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const lower = name.toLowerCase();
      if (lower === 'proxy-authorization') proxyAuthorization = rawHeaders[i + 1];
      if (lower === 'proxy-tokenizer') sealed.push(rawHeaders[i + 1]!);
    }

    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      const value = rawHeaders[i + 1]!;
      const lower = name.toLowerCase();
      if (HOP_BY_HOP.has(lower) && !keep.includes(lower)) continue;
      const found = [...value.matchAll(PLACEHOLDER_PATTERN)];
      if (!found.length) {
        out.push([name, value]);
        continue;
      }
      // The header that carried a placeholder is dropped; the secret's own header replaces it.
      for (const match of found) {
        let grant;
        try {
          grant = this.placeholders.verify(match[1]!, use);
        } catch (e) {
          if (e instanceof PlaceholderRefused) return { kind: 'refuse', status: 403, reason: e.message, secret: null };
          throw e;
        }
        const secret = this.secretFor(grant.secret);
        if (!secret) return { kind: 'refuse', status: 403, reason: `secret '${grant.secret}' no longer exists`, secret: grant.secret };
        if (!secret.hosts.some((h) => hostMatches(h, use.host))) {
          return {
            kind: 'refuse',
            status: 403,
            reason: `secret '${grant.secret}' may only be sent to ${secret.hosts.join(', ')}, not ${use.host}`,
            secret: grant.secret,
          };
        }
        const { header, template } = parseInject(secret.inject);
        injections.push({ header, value: template.split('{}').join(secret.value), label: grant.secret });
        used.push(grant.secret);
      }
    }

    for (const header of sealed) {
      try {
        injections.push(this.tokenizer.open(header, { proxyAuthorization, host: use.host }));
        used.push('tokenizer');
      } catch (e) {
        if (e instanceof TokenizerRefused) return { kind: 'refuse', status: 403, reason: e.message, secret: 'tokenizer' };
        throw e;
      }
    }

    for (const injection of injections) {
      const lower = injection.header.toLowerCase();
      for (let i = out.length - 1; i >= 0; i--) if (out[i]![0].toLowerCase() === lower) out.splice(i, 1);
      out.push([injection.header, injection.value]);
    }
    return { kind: 'forward', headers: out, used, injected: injections.length > 0 };
  }
}

/** `Authorization: Bearer {}` -> header and template; validated when the secret is added. */
export function parseInject(inject: string): { header: string; template: string } {
  const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(inject);
  if (!m || !m[2]!.includes('{}')) throw new Error(`inject must look like 'Authorization: Bearer {}', got '${inject}'`);
  return { header: m[1]!, template: m[2]! };
}
