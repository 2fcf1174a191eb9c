// API tokens as macaroons: minting (recorded, so that they can be listed and revoked),
// verifying a presented token's chain and revocation, and judging its caveats against a request.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import {
  listValue,
  MacaroonFormatError,
  mintMacaroon,
  parseCaveat,
  parseMacaroon,
  parseRfc3339,
  parseSandboxCaveatValue,
  serializeMacaroon,
  signatureValid,
  TOKEN_OPS,
  type TokenOp,
} from '@burrow/protocol';
import type { ApiTokenRecord, ApiTokenStore } from '../db/api-tokens.js';
import { firstFailingCaveat, validityChecks } from './caveats.js';

export const TOKEN_LOCATION = 'burrow';

/** What a request wants to do, for the caveats to judge. */
export interface RequestScope {
  op: TokenOp;
  /** The sandbox the request acts on, if any. */
  sandbox?: string;
  /** A listing restricted to names with this prefix ('' lists all). */
  listPrefix?: string;
}

/** A token whose chain is valid and whose id is live: its caveats are still to be judged. */
export interface Bearer {
  id: string;
  caveats: string[];
  /** When the server minted the id (ms): a `sandbox = NAME` caveat names the sandbox of then. */
  mintedAt: number;
}

/** What tells a sandbox from a later one re-created under its name. */
export interface SandboxIdentity {
  id: string;
  createdAt: string;
}

/** The sandbox that has this name now, if any. */
export type SandboxLookup = (name: string) => SandboxIdentity | undefined;

export class TokenRefused extends Error {}

export class TokenAuthority {
  private readonly revokeListeners: Array<(ids: ReadonlySet<string>) => void> = [];

  constructor(
    private readonly rootKey: Buffer,
    private readonly store: ApiTokenStore,
    private readonly now: () => number = Date.now,
    private readonly sandboxes: SandboxLookup = () => undefined,
  ) {}

  /** `parentId`: the token that asked for this one, whose revocation revokes this one too. */
  mint(opts: { description: string; caveats: string[]; isAdmin?: boolean; parentId?: string }): { token: string; record: ApiTokenRecord } {
    const record: ApiTokenRecord = {
      id: `tok_${randomBytes(12).toString('base64url')}`,
      description: opts.description,
      caveats: opts.caveats,
      isAdmin: opts.isAdmin ?? false,
      parentId: opts.parentId ?? null,
      createdAt: new Date(this.now()).toISOString(),
      revokedAt: null,
    };
    const macaroon = mintMacaroon(this.rootKey, record.id, TOKEN_LOCATION, opts.caveats);
    this.store.insert(record);
    return { token: serializeMacaroon(macaroon), record };
  }

  /** Checks the HMAC chain and that the token was minted here and not revoked. */
  authenticate(token: string): Bearer {
    let macaroon;
    try {
      macaroon = parseMacaroon(token);
    } catch (e) {
      if (e instanceof MacaroonFormatError) throw new TokenRefused(`the token is not a burrow token (${e.message})`);
      throw e;
    }
    if (!signatureValid(macaroon, this.rootKey)) throw new TokenRefused('the token is not valid (bad signature)');
    const id = macaroon.identifier.toString('utf8');
    const record = this.store.get(id);
    if (!record) throw new TokenRefused(`token ${id} is unknown to this server`);
    if (record.revokedAt) throw new TokenRefused(`token ${id} was revoked at ${record.revokedAt}`);
    return { id, caveats: macaroon.caveats, mintedAt: Date.parse(record.createdAt) };
  }

  /** Throws TokenRefused (saying which caveat failed) unless every caveat allows the request. */
  authorize(bearer: Bearer, scope: RequestScope): void {
    const sandbox = scope.sandbox === undefined ? undefined : this.sandboxes(scope.sandbox);
    const failing = firstFailingCaveat(bearer.caveats, apiChecks(scope, sandbox, bearer.mintedAt, this.now()));
    if (failing) throw new TokenRefused(`token ${bearer.id} does not allow ${describe(scope)}: ${failing}`);
  }

  /**
   * The caveats a minted token carries: each `sandbox = NAME` is followed by `sandbox-id = ID`
   * of the sandbox that has the name now, so that a sandbox re-created under the name is
   * another. Throws TokenRefused naming a sandbox that does not exist.
   */
  bindSandboxes(caveats: string[]): string[] {
    return caveats.flatMap((caveat) => {
      const parsed = parseCaveat(caveat);
      if (parsed?.key !== 'sandbox') return [caveat];
      const { name } = parseSandboxCaveatValue(parsed.value);
      const sandbox = this.sandboxes(name);
      if (!sandbox) throw new TokenRefused(`there is no sandbox '${name}' to bind the token to (sandbox-prefix = ${name} also allows one yet to be created)`);
      return [caveat, `sandbox-id = ${sandbox.id}`];
    });
  }

  list(): ApiTokenRecord[] {
    return this.store.list();
  }

  get(id: string): ApiTokenRecord | undefined {
    return this.store.get(id);
  }

  /** Revokes the token and every token minted from it, however deep; answers the ids revoked now. */
  revoke(id: string): string[] {
    const ids = this.store.revokeWithDescendants(id, new Date(this.now()).toISOString());
    const revoked = new Set(ids);
    for (const listener of this.revokeListeners) listener(revoked);
    return ids;
  }

  /**
   * Calls `listener` with the ids of every revocation: whoever remembers token checks forgets
   * them, whoever holds a connection a token opened closes it.
   */
  onRevoke(listener: (ids: ReadonlySet<string>) => void): void {
    this.revokeListeners.push(listener);
  }

  /**
   * The admin token file holds an unrestricted token for the host's root user. A file that does
   * not hold a live admin token of this server (first start, revoked, an older format) gets a
   * new one.
   */
  async ensureAdminToken(file: string): Promise<string> {
    const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
    if (existing) {
      try {
        const bearer = this.authenticate(existing);
        if (this.store.get(bearer.id)?.isAdmin && bearer.caveats.length === 0) return existing;
      } catch (e) {
        if (!(e instanceof TokenRefused)) throw e;
      }
    }
    const { token } = this.mint({ description: 'admin (admin.token)', caveats: [], isAdmin: true });
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    return token;
  }
}

/** `sandbox`, `sandbox-id`: the request's sandbox must be the one the token was bound to. */
function apiChecks(scope: RequestScope, sandbox: SandboxIdentity | undefined, mintedAt: number, now: number) {
  return {
    ...validityChecks(now),
    ops: (v: string) => {
      const allowed = listValue(v);
      return allowed.includes(scope.op) ? null : `the request needs '${scope.op}'`;
    },
    sandbox: (v: string) => {
      const { name, existedAt } = parseSandboxCaveatValue(v);
      if (scope.sandbox !== name) return `the request is for ${target(scope)}`;
      if (!sandbox) return null; // it is yet to be created
      const boundAt = existedAt === null ? mintedAt : parseRfc3339(existedAt);
      if (boundAt === null) return `'${existedAt}' is not an RFC 3339 time`;
      if (Date.parse(sandbox.createdAt) <= boundAt) return null;
      return `sandbox '${name}' was created at ${sandbox.createdAt}, after the token named it (${new Date(boundAt).toISOString()}): it is another sandbox of that name`;
    },
    'sandbox-id': (v: string) => {
      if (sandbox?.id === v) return null;
      return sandbox ? `${target(scope)} has id ${sandbox.id}: it is another sandbox of that name` : `the request is for ${target(scope)}, which does not exist`;
    },
    'sandbox-prefix': (v: string) => {
      const name = scope.sandbox ?? scope.listPrefix;
      return name !== undefined && name.startsWith(v) ? null : `the request is for ${target(scope)}`;
    },
  };
}

function target(scope: RequestScope): string {
  if (scope.sandbox !== undefined) return `sandbox '${scope.sandbox}'`;
  if (scope.listPrefix !== undefined) return scope.listPrefix ? `sandboxes named '${scope.listPrefix}*'` : 'every sandbox';
  return 'no single sandbox';
}

function describe(scope: RequestScope): string {
  return `'${scope.op}' on ${target(scope)}`;
}

export function isTokenOp(value: string): value is TokenOp {
  return (TOKEN_OPS as readonly string[]).includes(value);
}
