import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveCredentials } from '../src/credentials.js';
import { BurrowError } from '../src/errors.js';

describe('resolveCredentials', () => {
  let home: string;
  beforeEach(() => {
    home = mkdtempSync(join(tmpdir(), 'burrow-home-'));
  });
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('prefers options, then BURROW_API and BURROW_TOKEN', () => {
    const env = { BURROW_API: 'http://env:1/', BURROW_TOKEN: 'env-token', BURROW_HOME: home };
    expect(resolveCredentials({ baseURL: 'https://opt:2/', token: 'opt-token' }, env)).toEqual({
      baseURL: 'https://opt:2',
      token: 'opt-token',
    });
    expect(resolveCredentials({}, env)).toEqual({ baseURL: 'http://env:1', token: 'env-token' });
  });

  it('falls back to the local daemon and its admin token file', () => {
    writeFileSync(join(home, 'admin.token'), '  admin-secret\n');
    expect(resolveCredentials({}, { BURROW_HOME: home })).toEqual({ baseURL: 'http://127.0.0.1:7070', token: 'admin-secret' });
  });

  it('says how to pass a token when there is none', () => {
    const resolve = () => resolveCredentials({}, { BURROW_HOME: home });
    expect(resolve).toThrow(BurrowError);
    expect(resolve).toThrow(/set BURROW_TOKEN or pass one \(--token.*admin\.token cannot be used \(it does not exist\)/);
  });

  it('rejects an API URL that is not http(s)', () => {
    expect(() => resolveCredentials({ baseURL: 'localhost:7070', token: 't' })).toThrow(/must start with http/);
    expect(() => resolveCredentials({ baseURL: 'not a url', token: 't' })).toThrow(/is not a URL/);
  });
});
