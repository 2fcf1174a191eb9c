/**
 * The entry point: one API endpoint and token, and the sandbox-level calls of spec §2.
 */
import { resolveCredentials, type CredentialOptions } from './credentials.js';
import { BurrowError } from './errors.js';
import { HttpApi } from './http.js';
import { importArchive, type ImportOptions } from './image-archives.js';
import { Sandbox, usageQuery } from './sandbox.js';
import {
  caveatsFor,
  type ApiToken,
  type CreateSandboxRequest,
  type EgressLogEntry,
  type ListSpritesResponse,
  type SecretPreset,
  type SecretGrant,
  type SecretInfo,
  type Sprite,
  type TokenRestrictions,
  type UsageReport,
} from '@burrow/protocol';

/** Create may build a root filesystem and start a box: the Sprites JS SDK allows 120 s too. */
const CREATE_TIMEOUT_MS = 120_000;
/** The page size the Sprites JS SDK asks for; the documented maximum. */
const PAGE_SIZE = 50;

export type BurrowClientOptions = CredentialOptions;

export type CreateSandboxOptions = Omit<CreateSandboxRequest, 'name'>;

export class BurrowClient {
  private readonly api: HttpApi;

  /**
   * Defaults: `baseURL` from BURROW_API, else http://127.0.0.1:7070; `token` from
   * BURROW_TOKEN, else `$BURROW_HOME/admin.token`. Throws a BurrowError when no token is found.
   */
  constructor(options: BurrowClientOptions = {}) {
    this.api = new HttpApi(resolveCredentials(options));
  }

  get baseURL(): string {
    return this.api.baseURL;
  }

  /**
   * A new sandbox from an OCI image archive (an OCI layout or `docker save` tar), streamed as it
   * is read; a bad archive is refused with `invalid_image` and leaves nothing behind.
   */
  async importSandbox(name: string, archive: AsyncIterable<Uint8Array>, options: ImportOptions = {}): Promise<Sandbox> {
    const sprite = await importArchive(this.api, name, archive, options);
    return new Sandbox(this.api, sprite.name ?? name, sprite);
  }

  async createSandbox(name: string, options: CreateSandboxOptions = {}): Promise<Sandbox> {
    const request: CreateSandboxRequest = { ...options, name };
    const sprite = await this.api.json<Sprite>('POST', '/v1/sprites', {
      body: request,
      // Go SDKs reject anything but 201 (spec §2): hold the server to it here too.
      expect: [201],
      timeoutMs: CREATE_TIMEOUT_MS,
    });
    if (typeof sprite?.name !== 'string') {
      throw new BurrowError('internal', `burrow created '${name}' but its reply carries no sandbox name`);
    }
    return new Sandbox(this.api, sprite.name, sprite);
  }

  /** Fetches the sandbox; rejects with code `sandbox_not_found` (404) when there is none. */
  async getSandbox(name: string): Promise<Sandbox> {
    const sandbox = this.sandbox(name);
    await sandbox.refresh();
    return sandbox;
  }

  /** A handle without a request, for when the name is known to exist. */
  sandbox(name: string): Sandbox {
    return new Sandbox(this.api, name);
  }

  /** Every sandbox (whose name starts with `prefix`), across all pages. */
  async listSandboxes(options: { prefix?: string } = {}): Promise<Sprite[]> {
    const sprites: Sprite[] = [];
    let token: string | null | undefined;
    do {
      const query = new URLSearchParams({ max_results: String(PAGE_SIZE) });
      if (options.prefix) query.set('prefix', options.prefix);
      if (token) query.set('continuation_token', token);
      const page = await this.api.json<ListSpritesResponse>('GET', '/v1/sprites', { query });
      sprites.push(...(page.sprites ?? []));
      token = page.has_more ? page.next_continuation_token : undefined;
    } while (token);
    return sprites;
  }

  /** Metered usage and estimated cost of every sandbox (or one, `sprite`) over [from, to). */
  usage(range: { from?: Date; to?: Date; sprite?: string } = {}): Promise<UsageReport> {
    return this.api.json<UsageReport>('GET', '/v1/usage', { query: usageQuery(range) });
  }

  /** The Prometheus text of `GET /metrics`. */
  async metrics(): Promise<string> {
    return (await this.api.send('GET', '/metrics')).text();
  }

  async deleteSandbox(name: string): Promise<void> {
    await this.sandbox(name).delete();
  }

  /**
   * Mints an API token on the server. It carries this client's own token's caveats plus the
   * given restrictions, so it is never stronger than the token that asked for it.
   */
  async createToken(options: { description?: string; restrictions?: TokenRestrictions; caveats?: string[] } = {}): Promise<ApiToken & { token: string }> {
    const caveats = [...(options.restrictions ? caveatsFor(options.restrictions) : []), ...(options.caveats ?? [])];
    return this.api.json('POST', '/v1/tokens', {
      body: { ...(options.description ? { description: options.description } : {}), caveats },
      expect: [201],
    });
  }

  async listTokens(): Promise<ApiToken[]> {
    const { tokens } = await this.api.json<{ tokens: ApiToken[] }>('GET', '/v1/tokens');
    return tokens;
  }

  /** Revokes the token with this id, every token attenuated from it and every token minted from those. */
  async revokeToken(id: string): Promise<ApiToken> {
    return this.api.json('DELETE', `/v1/tokens/${encodeURIComponent(id)}`);
  }

  /**
   * Stores a secret (sealed at rest) that the egress proxy may send to `hosts` only; a `preset`
   * fills in the hosts and header of a known API (see SECRET_PRESETS).
   */
  async addSecret(name: string, options: { hosts?: string[]; inject?: string; preset?: SecretPreset; value: string }): Promise<SecretInfo> {
    return this.api.json('POST', '/v1/secrets', { body: { name, ...options }, expect: [201] });
  }

  async listSecrets(): Promise<SecretInfo[]> {
    return (await this.api.json<{ secrets: SecretInfo[] }>('GET', '/v1/secrets')).secrets;
  }

  async removeSecret(name: string): Promise<void> {
    await this.api.send('DELETE', `/v1/secrets/${encodeURIComponent(name)}`);
  }

  /** Gives `sandbox` a placeholder for the secret (in `/.burrow/secrets/NAME`, and in `env` if given). */
  async grantSecret(name: string, sandbox: string, options: { env?: string; ttl?: string | number } = {}): Promise<SecretGrant> {
    return this.api.json('POST', `/v1/secrets/${encodeURIComponent(name)}/grants`, { body: { sandbox, ...options }, expect: [201] });
  }

  async revokeSecret(name: string, sandbox: string): Promise<number> {
    const path = `/v1/secrets/${encodeURIComponent(name)}/grants/${encodeURIComponent(sandbox)}`;
    return (await this.api.json<{ revoked: number }>('DELETE', path)).revoked;
  }

  /** The audit log of the egress proxy, oldest first. */
  async egressLog(filter: { secret?: string; sandbox?: string; limit?: number } = {}): Promise<EgressLogEntry[]> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) query.set(k, String(v));
    return (await this.api.json<{ entries: EgressLogEntry[] }>('GET', '/v1/egress/log', { query })).entries;
  }

  /** The key superfly/tokenizer clients seal secrets to (hex X25519). */
  async tokenizerPublicKey(): Promise<string> {
    return (await this.api.json<{ public_key: string }>('GET', '/v1/egress/tokenizer-key')).public_key;
  }
}
