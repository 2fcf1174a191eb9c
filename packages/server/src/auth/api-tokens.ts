// API tokens as macaroons: minting (recorded, so that they can be listed and revoked),
// verifying a presented token's chain and revocation, and judging its caveats against a request.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import {
  MacaroonFormatError,
  mintMacaroon,
  parseMacaroon,
  serializeMacaroon,
  signatureValid,
  TOKEN_OPS,
  type TokenOp,
} from '@burrow/sdk';
import type { ApiTokenRecord, ApiTokenStore } from '../db/api-tokens.js';
import { firstFailingCaveat, listValue, validityChecks } from './caveats.js';

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
}

export class TokenRefused extends Error {}

export class TokenAuthority {
  private readonly revokeListeners: Array<(ids: ReadonlySet<string>) => void> = [];

  constructor(
    private readonly rootKey: Buffer,
    private readonly store: ApiTokenStore,
    private readonly now: () => number = Date.now,
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
    return { id, caveats: macaroon.caveats };
  }

  /** Throws TokenRefused (saying which caveat failed) unless every caveat allows the request. */
  authorize(bearer: Bearer, scope: RequestScope): void {
    const failing = firstFailingCaveat(bearer.caveats, apiChecks(scope, this.now()));
    if (failing) throw new TokenRefused(`token ${bearer.id} does not allow ${describe(scope)}: ${failing}`);
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

function apiChecks(scope: RequestScope, now: number) {
  return {
    ...validityChecks(now),
    ops: (v: string) => {
      const allowed = listValue(v);
      return allowed.includes(scope.op) ? null : `the request needs '${scope.op}'`;
    },
    sandbox: (v: string) => (scope.sandbox === v ? null : `the request is for ${target(scope)}`),
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
