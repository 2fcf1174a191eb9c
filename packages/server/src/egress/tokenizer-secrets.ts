// Compatibility with superfly/tokenizer clients: a `Proxy-Tokenizer` header carries a secret
// sealed (libsodium sealed box, base64) to this proxy's X25519 public key, optionally followed
// by `; {"dst":..,"fmt":..}`. Supported: `inject_processor` (token, fmt, dst, allowed_fmt,
// allowed_dst), `bearer_auth` (SHA-256 digest of the `Proxy-Authorization: Bearer` token),
// `allowed_hosts`. Anything else in the secret is refused rather than ignored.
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import sodium from 'libsodium-wrappers';
import { z } from 'zod';

const injectProcessor = z
  .object({
    token: z.string().min(1),
    fmt: z.string().optional(),
    allowed_fmt: z.array(z.string()).optional(),
    dst: z.string().optional(),
    allowed_dst: z.array(z.string()).optional(),
  })
  .strict();

const wireSecret = z
  .object({
    inject_processor: injectProcessor,
    bearer_auth: z.object({ digest: z.string().min(1) }).strict(),
    allowed_hosts: z.array(z.string()).optional(),
  })
  .strict();

export class TokenizerRefused extends Error {}

/** One header to set upstream. */
export interface Injection {
  header: string;
  value: string;
  /** For the audit log: never the value. */
  label: string;
}

export class TokenizerKeys {
  private constructor(
    private readonly publicKey: Uint8Array,
    private readonly privateKey: Uint8Array,
  ) {}

  /** The key pair in `file` (hex private key, 0600), made on first use. */
  static async open(file: string): Promise<TokenizerKeys> {
    await sodium.ready;
    const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (/^[0-9a-f]{64}$/.test(existing)) {
      const privateKey = Buffer.from(existing, 'hex');
      return new TokenizerKeys(sodium.crypto_scalarmult_base(privateKey), privateKey);
    }
    const pair = sodium.crypto_box_keypair();
    await writeFile(file, `${Buffer.from(pair.privateKey).toString('hex')}\n`, { mode: 0o600 });
    return new TokenizerKeys(pair.publicKey, pair.privateKey);
  }

  /** What clients seal to (hex, as tokenizer's TOKENIZER_PUBLIC_KEY). */
  get publicKeyHex(): string {
    return Buffer.from(this.publicKey).toString('hex');
  }

  /**
   * The header the secret asks for, once the request proves it may use it. `proxyAuthorization`
   * is the request's Proxy-Authorization header, `host` the upstream it will reach.
   */
  open(header: string, request: { proxyAuthorization: string | undefined; host: string }): Injection {
    const cut = header.indexOf(';');
    const b64 = (cut < 0 ? header : header.slice(0, cut)).trim();
    const paramsText = cut < 0 ? '' : header.slice(cut + 1).trim();
    let params: Record<string, string> = {};
    if (paramsText) {
      try {
        params = z.record(z.string(), z.string()).parse(JSON.parse(paramsText));
      } catch {
        throw new TokenizerRefused('Proxy-Tokenizer parameters are not a JSON object of strings');
      }
    }
    let plain: Uint8Array;
    try {
      plain = sodium.crypto_box_seal_open(Buffer.from(b64, 'base64'), this.publicKey, this.privateKey);
    } catch {
      throw new TokenizerRefused('Proxy-Tokenizer secret does not open with this proxy key');
    }
    const parsed = wireSecret.safeParse(JSON.parse(Buffer.from(plain).toString('utf8')));
    if (!parsed.success) throw new TokenizerRefused(`unsupported Proxy-Tokenizer secret: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    const secret = parsed.data;

    const bearer = /^Bearer\s+(.+)$/i.exec(request.proxyAuthorization ?? '')?.[1]?.trim();
    const expected = Buffer.from(secret.bearer_auth.digest, 'base64');
    const given = createHash('sha256').update(bearer ?? '').digest();
    if (!bearer || expected.length !== given.length || !timingSafeEqual(expected, given)) {
      throw new TokenizerRefused('Proxy-Authorization does not match the sealed secret');
    }
    const hosts = secret.allowed_hosts;
    if (hosts && !hosts.some((h) => h.toLowerCase() === request.host.toLowerCase())) {
      throw new TokenizerRefused(`the sealed secret is not allowed for host ${request.host}`);
    }

    const p = secret.inject_processor;
    const fmt = params.fmt ?? p.fmt ?? p.allowed_fmt?.[0] ?? 'Bearer %s';
    if ((p.fmt && fmt !== p.fmt) || (p.allowed_fmt && !p.allowed_fmt.includes(fmt))) throw new TokenizerRefused('fmt not allowed');
    const directive = fmt.indexOf('%');
    if (directive < 0 || fmt[directive + 1] !== 's' || fmt.indexOf('%', directive + 2) >= 0) throw new TokenizerRefused('bad fmt');
    const dst = params.dst ?? p.dst ?? p.allowed_dst?.[0] ?? 'Authorization';
    if ((p.dst && dst !== p.dst) || (p.allowed_dst && !p.allowed_dst.includes(dst))) throw new TokenizerRefused('dst not allowed');
    if (!/^[A-Za-z0-9-]+$/.test(dst)) throw new TokenizerRefused('bad dst');
    return { header: dst, value: fmt.replace('%s', p.token), label: 'tokenizer' };
  }
}
