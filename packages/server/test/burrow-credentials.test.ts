// What of a request to a sandbox URL the app inside may see: burrow's tokens and cookies never,
// the app's own credentials byte for byte.
import { attenuateToken, mintMacaroon, serializeMacaroon } from '@burrow/protocol';
import { describe, expect, it } from 'vitest';
import { appHeaders, appHeaderValue, isBurrowAuthorization, withoutBurrowCookies } from '../src/api/burrow-credentials.js';

const token = serializeMacaroon(mintMacaroon(Buffer.alloc(32, 7), 'tok_x', 'burrow', ['sandbox = other']));

describe('an Authorization header', () => {
  it('is burrow\'s when it is a Bearer macaroon, valid or not, attenuated or not, whatever its location', () => {
    expect(isBurrowAuthorization(`Bearer ${token}`)).toBe(true);
    expect(isBurrowAuthorization(`bearer  ${attenuateToken(token, ['ops = read'])}`)).toBe(true);
    const elsewhere = serializeMacaroon(mintMacaroon(Buffer.alloc(32, 1), 'tok_y', 'somewhere'));
    expect(isBurrowAuthorization(`Bearer ${elsewhere}`)).toBe(true);
    // Malformed values burrow itself would refuse must not carry a token past it either.
    expect(isBurrowAuthorization(`Token ${token}`)).toBe(true);
    expect(isBurrowAuthorization(`Bearer ${token}, Basic YXBwOnNlY3JldA==`)).toBe(true);
  });

  it('is the app\'s when it is anything else', () => {
    for (const value of ['Basic YXBwOnNlY3JldA==', 'Bearer the-apps-own-token', 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.x', 'Digest username="app", nonce="abc"', '']) {
      expect(isBurrowAuthorization(value)).toBe(false);
      expect(appHeaderValue('Authorization', value)).toBe(value);
    }
  });
});

describe('a Cookie header', () => {
  it('loses every burrow_* cookie and keeps the others exactly as they came', () => {
    expect(withoutBurrowCookies('theme=dark; burrow_url_auth=x; sid="a b";burrow_session=y;  burrow_new=1; lang=en')).toBe('theme=dark; sid="a b"; lang=en');
    expect(withoutBurrowCookies('burrow_session=y; theme=dark')).toBe('theme=dark');
    expect(withoutBurrowCookies('a=1;b=2')).toBe('a=1;b=2');
    expect(withoutBurrowCookies('ref=burrow_x; a=burrow_session')).toBe('ref=burrow_x; a=burrow_session');
  });

  it('is dropped when only burrow cookies were in it', () => {
    expect(withoutBurrowCookies('burrow_session=y; burrow_url_auth=x')).toBeUndefined();
    expect(appHeaders({ cookie: 'burrow_session=y', host: 'h' })).toEqual({ host: 'h' });
  });
});

describe('the headers for the HTTP server path', () => {
  it('lose burrow tokens and cookies and keep the rest', () => {
    const headers = { host: 'web.localhost', authorization: `Bearer ${token}`, 'proxy-authorization': `Bearer ${token}`, cookie: 'a=1; burrow_session=s', accept: '*/*' };
    expect(appHeaders(headers)).toEqual({ host: 'web.localhost', cookie: 'a=1', accept: '*/*' });
    expect(appHeaders({ authorization: 'Basic YXBwOnNlY3JldA==' })).toEqual({ authorization: 'Basic YXBwOnNlY3JldA==' });
  });
});
