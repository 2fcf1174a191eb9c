// Connections outlive the request that authorized them: a WebSocket (exec, a session, the TCP
// proxy, a watch) or a streaming response (the live list, an event follow, an HTTP exec) ends
// when the token that opened it stops being valid: at once when it, or a token it was minted
// from, is revoked, and when its `expires` caveat passes.
import type { Bearer, TokenAuthority } from '../../auth/api-tokens.js';
import { expiryOf } from '../../auth/caveats.js';

/** Why a connection was ended: also the WebSocket close reason. */
export type TokenEnd = 'token revoked' | 'token expired';

/**
 * 1008 is the WebSocket standard's "policy violation"; the reason says which. 1000 and
 * 4000-4255 carry a command's exit status, so a client never mistakes this for one.
 */
export const TOKEN_END_CLOSE_CODE = 1008;

/** setTimeout's longest delay; later expiries are re-armed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TokenBoundConnections {
  private readonly byToken = new Map<string, Set<(why: TokenEnd) => void>>();

  constructor(
    private readonly tokens: TokenAuthority,
    private readonly now: () => number = Date.now,
  ) {
    tokens.onRevoke((ids) => {
      for (const id of ids) for (const end of [...(this.byToken.get(id) ?? [])]) end('token revoked');
    });
  }

  /**
   * Calls `end` once, when the bearer's token is revoked or expires, unless the returned
   * release is called first (the connection closed on its own). A token revoked since it was
   * checked (a WebSocket's route may take a while to wake its sandbox) ends it at once.
   */
  hold(bearer: Bearer, end: (why: TokenEnd) => void): () => void {
    let timer: NodeJS.Timeout | undefined;
    const release = () => {
      clearTimeout(timer);
      const held = this.byToken.get(bearer.id);
      held?.delete(once);
      if (held?.size === 0) this.byToken.delete(bearer.id);
    };
    const once = (why: TokenEnd) => {
      release();
      end(why);
    };
    const held = this.byToken.get(bearer.id) ?? new Set();
    held.add(once);
    this.byToken.set(bearer.id, held);

    if (this.tokens.get(bearer.id)?.revokedAt) {
      once('token revoked');
      return release;
    }
    const expiry = expiryOf(bearer.caveats);
    const arm = () => {
      if (expiry === null) return;
      const left = expiry - this.now();
      if (left <= 0) return once('token expired');
      timer = setTimeout(arm, Math.min(left, MAX_TIMER_MS));
      timer.unref();
    };
    arm();
    return release;
  }
}
