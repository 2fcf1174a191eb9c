// Browser sessions: a cookie (or a login link) is a random id that stands for an API token kept
// server-side, never the token itself. A session ends when it expires, when its browser logs out,
// or when its token is no longer accepted (revoked): callers check the token at every use, and
// a revocation deletes the sessions of refused tokens outright.
import { createHash, randomBytes } from 'node:crypto';
import { TokenRefused, type TokenAuthority } from './api-tokens.js';
import type { BrowserSessionKind, BrowserSessionStore } from '../db/browser-sessions.js';

export interface BrowserSession {
  sandboxId: string | null;
  token: string;
  expiresAt: number;
}

/** base64url of 32 random bytes. */
const ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const KNOWN_MAX = 1_000;

export class BrowserSessions {
  /**
   * Sessions found, by id: a URL login is looked up with every request it makes, and the table
   * costs several times what relaying a request does. Every change to a session goes through
   * this object, so what it remembers never disagrees with the table.
   */
  private readonly known = new Map<string, BrowserSession & { kind: BrowserSessionKind }>();

  constructor(
    private readonly store: BrowserSessionStore,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts a session; the answer is the id for the browser's cookie (or link). */
  open(kind: BrowserSessionKind, token: string, lifetimeMs: number, sandboxId: string | null = null): { id: string; expiresAt: number } {
    const now = this.now();
    this.store.deleteExpired(now);
    const id = randomBytes(32).toString('base64url');
    const expiresAt = now + lifetimeMs;
    this.store.insert({ idHash: hashOf(id), kind, sandboxId, token, expiresAt });
    return { id, expiresAt };
  }

  /** The live session of this kind with this id, or undefined. */
  find(kind: BrowserSessionKind, id: string): BrowserSession | undefined {
    if (!ID_PATTERN.test(id)) return undefined;
    const now = this.now();
    let session = this.known.get(id);
    if (!session) {
      const record = this.store.find(hashOf(id), kind, now);
      if (!record) return undefined;
      session = { kind, sandboxId: record.sandboxId, token: record.token, expiresAt: record.expiresAt };
      if (this.known.size >= KNOWN_MAX) this.known.clear();
      this.known.set(id, session);
    }
    if (session.kind !== kind || session.expiresAt <= now) return undefined;
    return { sandboxId: session.sandboxId, token: session.token, expiresAt: session.expiresAt };
  }

  close(id: string): void {
    if (!ID_PATTERN.test(id)) return;
    this.known.delete(id);
    this.store.delete(hashOf(id));
  }

  /** From now on, a revocation deletes the sessions of every token the authority then refuses. */
  endWithRevokedTokens(tokens: Pick<TokenAuthority, 'onRevoke' | 'authenticate'>): void {
    tokens.onRevoke(() => {
      this.known.clear();
      for (const token of this.store.tokens()) if (!accepts(tokens, token)) this.store.deleteByToken(token);
    });
  }
}

function accepts(tokens: Pick<TokenAuthority, 'authenticate'>, token: string): boolean {
  try {
    tokens.authenticate(token);
    return true;
  } catch (e) {
    if (e instanceof TokenRefused) return false;
    throw e;
  }
}

function hashOf(id: string): string {
  return createHash('sha256').update(id).digest('base64url');
}
