// Inject templates: one header for every host or a header of a host's own, Basic credentials
// composed with {base64:...}, and placeholders found inside the Basic credentials git sends.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Injector, parseInject, type SecretForUse } from '../src/egress/injector.js';
import { Placeholders, type UseContext } from '../src/egress/placeholders.js';
import { TokenizerKeys } from '../src/egress/tokenizer-secrets.js';

const REAL = 'ghp_REAL_TOKEN';
const GITHUB = ['Authorization: Bearer {}', 'github.com=Authorization: Basic {base64:x-access-token:{}}'].join('\n');
const placeholders = new Placeholders(Buffer.alloc(32, 5), (id) => ({ id, secret: 'gh', sandboxId: 'sb1', sandbox: 'one', revoked: false }));
const secret: SecretForUse = { hosts: ['github.com', 'api.github.com'], inject: GITHUB, value: REAL };
let injector: Injector;
const dir = mkdtempSync(join(tmpdir(), 'burrow-inject-'));
beforeAll(async () => {
  injector = new Injector(placeholders, () => secret, await TokenizerKeys.open(join(dir, 'tokenizer.key')));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const placeholder = placeholders.mint('g1', ['sandbox = one', 'secret = gh']);
const use = (host: string): UseContext => ({ sandboxId: 'sb1', host, method: 'GET', path: '/', now: Date.now() });
const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

function authorization(headers: string[], host: string): string | undefined {
  const decision = injector.decide(headers, use(host));
  if (decision.kind !== 'forward') throw new Error(decision.reason);
  return decision.headers.find(([name]) => name.toLowerCase() === 'authorization')?.[1];
}

describe('inject templates', () => {
  it('sets the line without a host for every host, and a host line for its host', () => {
    expect(authorization(['Authorization', `token ${placeholder}`], 'api.github.com')).toBe(`Bearer ${REAL}`);
    expect(authorization(['Authorization', `Bearer ${placeholder}`], 'github.com')).toBe(basic(`x-access-token:${REAL}`));
  });

  it('finds a placeholder inside Basic credentials (what git sends) and replaces them whole', () => {
    expect(authorization(['Authorization', basic(`x-access-token:${placeholder}`)], 'github.com')).toBe(basic(`x-access-token:${REAL}`));
  });

  it('leaves Basic credentials without a placeholder alone', () => {
    expect(authorization(['Authorization', basic('me:my-own-password')], 'github.com')).toBe(basic('me:my-own-password'));
  });

  it('refuses templates without the value, malformed lines and host lines alone', () => {
    expect(() => parseInject('Authorization: Bearer')).toThrow(/inject must be/);
    expect(() => parseInject('Authorization Bearer {}')).toThrow(/inject must be/);
    expect(() => parseInject('github.com=Authorization: Basic {base64:x:{}}')).toThrow(/one line without a host/);
    expect(parseInject(GITHUB)).toEqual([
      { host: null, header: 'Authorization', template: 'Bearer {}' },
      { host: 'github.com', header: 'Authorization', template: 'Basic {base64:x-access-token:{}}' },
    ]);
  });
});
