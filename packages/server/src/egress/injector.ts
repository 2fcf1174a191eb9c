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
      const found = [...value.matchAll(PLACEHOLDER_PATTERN), ...(basicCredentials(value)?.matchAll(PLACEHOLDER_PATTERN) ?? [])];
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
        const rule = injectRuleFor(parseInject(secret.inject), use.host);
        injections.push({ header: rule.header, value: renderTemplate(rule.template, secret.value), label: grant.secret });
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

/** One line of a secret's `inject`: the header to set, for one host or (host null) for any. */
export interface InjectRule {
  host: string | null;
  header: string;
  template: string;
}

const BASE64_PART = /\{base64:((?:[^{}]|\{\})*)\}/g;

/**
 * A secret's `inject`, one rule a line: `Header: template`, or `host=Header: template` for
 * requests to that host (exact name or `*.example.com`), which wins over the line without a
 * host. In a template `{}` is the value and `{base64:TEXT}` is TEXT (with its own `{}`)
 * base64-encoded, for Basic credentials: `Authorization: Basic {base64:x-access-token:{}}`.
 * Validated when the secret is added.
 */
export function parseInject(inject: string): InjectRule[] {
  const rules = inject.split('\n').map((line) => {
    const m = /^(?:([A-Za-z0-9*.-]+)=)?([A-Za-z0-9-]+):\s*(.*)$/.exec(line.trim());
    if (!m || !m[3]!.includes('{}')) {
      throw new Error(`inject must be lines like 'Authorization: Bearer {}' or 'github.com=Authorization: Basic {base64:x-access-token:{}}', got '${line}'`);
    }
    return { host: m[1]?.toLowerCase() ?? null, header: m[2]!, template: m[3]! };
  });
  if (!rules.some((r) => r.host === null)) throw new Error(`inject needs one line without a host (the header for every other host), got '${inject}'`);
  return rules;
}

export function injectRuleFor(rules: InjectRule[], host: string): InjectRule {
  return rules.find((r) => r.host !== null && hostMatches(r.host, host)) ?? rules.find((r) => r.host === null)!;
}

export function renderTemplate(template: string, value: string): string {
  const withBase64 = template.replace(BASE64_PART, (_all, inner: string) => Buffer.from(inner.split('{}').join(value)).toString('base64'));
  return withBase64.split('{}').join(value);
}

/** The decoded `user:password` of a Basic credential (git sends its password that way), if any. */
function basicCredentials(value: string): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(value);
  return m ? Buffer.from(m[1]!, 'base64').toString('utf8') : undefined;
}
