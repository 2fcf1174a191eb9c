// Connections a token opened end when it is revoked or expires, once, and not after they closed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Bearer, TokenAuthority } from '../src/auth/api-tokens.js';
import { TokenBoundConnections, type TokenEnd } from '../src/api/public/token-bound-connections.js';

let revoke: (ids: ReadonlySet<string>) => void;
let connections: TokenBoundConnections;
const revokedBefore = new Set<string>();
const tokens = {
  onRevoke: (listener: (ids: ReadonlySet<string>) => void) => (revoke = listener),
  get: (id: string) => ({ revokedAt: revokedBefore.has(id) ? '2029-12-31T00:00:00Z' : null }),
} as unknown as TokenAuthority;

beforeEach(() => {
  vi.useFakeTimers({ now: Date.parse('2030-01-01T00:00:00Z') });
  connections = new TokenBoundConnections(tokens);
});
afterEach(() => vi.useRealTimers());

const bearer = (id: string, caveats: string[] = []): Bearer => ({ id, caveats, mintedAt: 0 });

describe('connections bound to the token that opened them', () => {
  it('end once when their token is revoked, and only theirs', () => {
    const ends: Array<[string, TokenEnd]> = [];
    connections.hold(bearer('a'), (why) => ends.push(['a1', why]));
    connections.hold(bearer('a'), (why) => ends.push(['a2', why]));
    connections.hold(bearer('b'), (why) => ends.push(['b', why]));
    revoke(new Set(['a']));
    revoke(new Set(['a']));
    expect(ends).toEqual([
      ['a1', 'token revoked'],
      ['a2', 'token revoked'],
    ]);
  });

  it('end at the earliest expires caveat, even one beyond the longest timer', () => {
    const ends: TokenEnd[] = [];
    const days40 = 40 * 24 * 3600_000;
    connections.hold(bearer('a', ['expires = 2030-02-10T00:00:00Z', 'expires = 2031-01-01T00:00:00Z']), (why) => ends.push(why));
    vi.advanceTimersByTime(days40 - 1000);
    expect(ends).toEqual([]);
    vi.advanceTimersByTime(1000);
    expect(ends).toEqual(['token expired']);
  });

  it('end at once when their token was revoked between its check and the hold', () => {
    const ends: TokenEnd[] = [];
    revokedBefore.add('late');
    connections.hold(bearer('late'), (why) => ends.push(why));
    expect(ends).toEqual(['token revoked']);
  });

  it('leave a connection alone once it closed by itself', () => {
    const ends: TokenEnd[] = [];
    const release = connections.hold(bearer('a', ['expires = 2030-01-01T00:00:05Z']), (why) => ends.push(why));
    release();
    revoke(new Set(['a']));
    vi.advanceTimersByTime(10_000);
    expect(ends).toEqual([]);
  });
});
