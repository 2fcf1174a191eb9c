// The egress proxy against a real HTTPS upstream on loopback, driven as an explicit proxy
// (curl and Node through CONNECT) and as a transparent one (TLS with SNI straight to it).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server } from 'node:https';
import { BlockList, connect as netConnect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect, createSecureContext } from 'node:tls';
import { promisify } from 'node:util';
import { attenuateToken } from '@burrow/protocol';
import sodium from 'libsodium-wrappers';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '../src/egress/certificate-authority.js';
import { Injector, type SecretForUse } from '../src/egress/injector.js';
import { PLACEHOLDER_PREFIX, Placeholders, type PlaceholderGrant } from '../src/egress/placeholders.js';
import { EgressProxy, type EgressEvent } from '../src/egress/proxy.js';
import { TokenizerKeys } from '../src/egress/tokenizer-secrets.js';

const run = promisify(execFile);
const REAL = 'sk_live_REAL_VALUE_123';

let dir: string;
let ca: CertificateAuthority;
let upstreamCa: CertificateAuthority;
let upstream: Server;
let upstreamPort: number;
let proxy: EgressProxy;
let proxyPort: number;
let tokenizer: TokenizerKeys;
let placeholders: Placeholders;
const seen: Array<{ method: string; url: string; headers: Record<string, unknown>; host: string }> = [];
const audit: EgressEvent[] = [];
const grants = new Map<string, PlaceholderGrant>();
const secrets = new Map<string, SecretForUse>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-egress-'));
  ca = await CertificateAuthority.open(join(dir, 'ca'));
  upstreamCa = await CertificateAuthority.open(join(dir, 'upstream-ca'));
  writeFileSync(join(dir, 'ca.crt'), ca.certPem);

  // One upstream answering for two names (each with its own certificate), echoing what it got.
  const api = await upstreamCa.leafFor('api.example.test');
  const other = await upstreamCa.leafFor('other.example.test');
  upstream = createHttpsServer({
    key: api.key,
    cert: api.cert,
    SNICallback: (name, cb) => {
      const leaf = name === 'other.example.test' ? other : api;
      cb(null, createSecureContext({ key: leaf.key, cert: leaf.cert }));
    },
  });
  upstream.on('request', (req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, host: req.headers.host ?? '' });
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  // An upgrade that reports the Authorization it got, then echoes bytes.
  upstream.on('upgrade', (req, socket: import('node:net').Socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\nX-Auth: ${req.headers.authorization}\r\n\r\n`);
    socket.pipe(socket);
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  upstreamPort = (upstream.address() as AddressInfo).port;

  await sodium.ready;
  tokenizer = await TokenizerKeys.open(join(dir, 'tokenizer.key'));
  placeholders = new Placeholders(Buffer.alloc(32, 7), (id) => grants.get(id));
  // Only 10/8 is blocked here, so that loopback can play the internet.
  const blocked = new BlockList();
  blocked.addSubnet('10.0.0.0', 8, 'ipv4');
  const sandboxes: Record<string, { id: string; name: string }> = {
    '127.0.0.1': { id: 'sb-1', name: 'one', address: '127.0.0.1' },
    '127.0.0.2': { id: 'sb-2', name: 'two', address: '127.0.0.2' },
  };
  proxy = new EgressProxy({
    ca,
    injector: new Injector(placeholders, (name) => secrets.get(name), tokenizer),
    identify: (_remote, local) => sandboxes[local] ?? null,
    policyRefusal: (_sandbox, host) => (host === 'denied.example.test' ? 'denied by policy' : null),
    blocked,
    audit: (e) => audit.push(e),
    upstreamCa: [upstreamCa.certPem],
    lookup: (name, cb) => cb(null, [{ address: name === 'blocked.example.test' ? '10.1.2.3' : '127.0.0.1', family: 4 }]),
    transparentPorts: { http: upstreamPort, https: upstreamPort },
  });
  proxyPort = await proxy.start(0, '0.0.0.0');

  secrets.set('stripe', { hosts: ['api.example.test'], inject: 'Authorization: Bearer {}', value: REAL });
  grants.set('g1', { id: 'g1', secret: 'stripe', sandboxId: 'sb-1', sandbox: 'one', revoked: false });
});

afterAll(async () => {
  await proxy?.close();
  upstream?.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  seen.length = 0;
  audit.length = 0;
});

const placeholder = (caveats: string[] = ['sandbox = one', 'secret = stripe']) => placeholders.mint('g1', caveats);

async function curl(url: string, headers: string[], opts: { proxyHost?: string; method?: string } = {}) {
  const args = ['-sS', '-o', '-', '-w', '\n%{http_code}', '--proxy', `http://${opts.proxyHost ?? '127.0.0.1'}:${proxyPort}`, '--cacert', join(dir, 'ca.crt')];
  if (opts.method) args.push('-X', opts.method);
  for (const h of headers) args.push('-H', h);
  const { stdout } = await run('curl', [...args, url]);
  const cut = stdout.lastIndexOf('\n');
  return { status: Number(stdout.slice(cut + 1)), body: stdout.slice(0, cut) };
}

const apiUrl = (path = '/v1/charges') => `https://api.example.test:${upstreamPort}${path}`;

describe('egress proxy (explicit mode)', () => {
  it('replaces a placeholder with the real secret and audits it', async () => {
    const r = await curl(apiUrl('/v1/charges?limit=3'), [`Authorization: Bearer ${placeholder()}`]);
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body) as { headers: Record<string, string>; url: string };
    expect(echoed.headers.authorization).toBe(`Bearer ${REAL}`);
    expect(echoed.url).toBe('/v1/charges?limit=3');
    expect(JSON.stringify(echoed.headers)).not.toContain(PLACEHOLDER_PREFIX);
    expect(audit).toEqual([
      { sandbox: 'one', secret: 'stripe', host: 'api.example.test', method: 'GET', path: '/v1/charges', status: 200, outcome: 'injected' },
    ]);
  });

  it('passes traffic without placeholders through unchanged', async () => {
    const r = await curl(apiUrl('/plain'), ['Authorization: Bearer mine', 'X-Custom: 1']);
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(echoed.headers.authorization).toBe('Bearer mine');
    expect(echoed.headers['x-custom']).toBe('1');
    expect(audit).toEqual([]);
  });

  it('refuses a placeholder sent to a host it is not for, and forwards nothing', async () => {
    const r = await curl(`https://other.example.test:${upstreamPort}/steal`, [`Authorization: Bearer ${placeholder()}`]);
    expect(r.status).toBe(403);
    expect(r.body).not.toContain(REAL);
    expect(seen).toEqual([]);
    expect(audit[0]).toMatchObject({ secret: 'stripe', host: 'other.example.test', status: 403 });
    expect(audit[0]!.outcome).toMatch(/^refused: .*may only be sent to api\.example\.test/);
  });

  it('refuses tampered, expired and other-sandbox placeholders', async () => {
    const good = placeholder();
    const tampered = good.slice(0, -3) + (good.endsWith('A') ? 'BBB' : 'AAA');
    const expired = PLACEHOLDER_PREFIX + attenuateToken(good.slice(PLACEHOLDER_PREFIX.length), ['expires = 2000-01-01T00:00:00Z']);
    for (const bad of [tampered, expired]) {
      expect((await curl(apiUrl(), [`Authorization: Bearer ${bad}`])).status).toBe(403);
    }
    // 127.0.0.2 is sandbox "two": the placeholder is bound to "one".
    expect((await curl(apiUrl(), [`Authorization: Bearer ${good}`], { proxyHost: '127.0.0.2' })).status).toBe(403);
    expect(seen).toEqual([]);
    expect(audit.map((a) => a.outcome)).toEqual([
      expect.stringMatching(/signature|malformed/),
      expect.stringMatching(/expired/),
      expect.stringMatching(/bound to sandbox 'one'/),
    ]);
  });

  it('honours caveats added offline: method, path prefix, validity', async () => {
    const body = placeholder().slice(PLACEHOLDER_PREFIX.length);
    const narrowed =
      PLACEHOLDER_PREFIX +
      attenuateToken(body, ['method = GET', 'path-prefix = /v1/charges', `expires = ${new Date(Date.now() + 60_000).toISOString()}`]);
    expect((await curl(apiUrl('/v1/charges/ch_1'), [`Authorization: Bearer ${narrowed}`])).status).toBe(200);
    expect((await curl(apiUrl('/v1/charges'), [`Authorization: Bearer ${narrowed}`], { method: 'POST' })).status).toBe(403);
    expect((await curl(apiUrl('/v1/customers'), [`Authorization: Bearer ${narrowed}`])).status).toBe(403);
    const unknown = PLACEHOLDER_PREFIX + attenuateToken(body, ['colour = blue']);
    expect((await curl(apiUrl(), [`Authorization: Bearer ${unknown}`])).status).toBe(403);
  });

  it('refuses a revoked grant', async () => {
    grants.set('g1', { ...grants.get('g1')!, revoked: true });
    try {
      expect((await curl(apiUrl(), [`Authorization: Bearer ${placeholder()}`])).status).toBe(403);
    } finally {
      grants.set('g1', { ...grants.get('g1')!, revoked: false });
    }
  });

  it('verifies the upstream certificate', async () => {
    const strict = new EgressProxy({
      ca,
      injector: new Injector(placeholders, (name) => secrets.get(name), tokenizer),
      identify: () => ({ id: 'sb-1', name: 'one', address: '127.0.0.1' }),
      policyRefusal: () => null,
      blocked: new BlockList(),
      audit: () => {},
      lookup: (_name, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]),
    });
    const port = await strict.start(0, '127.0.0.1');
    try {
      const { stdout } = await run('curl', [
        '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--proxy', `http://127.0.0.1:${port}`, '--cacert', join(dir, 'ca.crt'),
        '-H', `Authorization: Bearer ${placeholder()}`, apiUrl(),
      ]);
      expect(stdout).toBe('502');
      expect(seen.filter((s) => s.headers.authorization)).toEqual([]);
    } finally {
      await strict.close();
    }
  });

  it('never connects to blocked addresses or hosts the policy denies', async () => {
    expect((await curl(`https://blocked.example.test:${upstreamPort}/`, [])).status).toBe(403);
    expect((await curl(`https://denied.example.test:${upstreamPort}/`, [])).status).toBe(403);
    expect((await curl(`http://10.9.9.9:${upstreamPort}/`, [])).status).toBe(403);
  });

  it('refuses connections that come from no sandbox', async () => {
    const socket = netConnect(proxyPort, '127.0.0.3');
    const closed = await new Promise<boolean>((resolve) => {
      socket.on('close', () => resolve(true));
      socket.on('error', () => resolve(true));
      socket.write('GET http://api.example.test/ HTTP/1.1\r\nHost: api.example.test\r\n\r\n');
    });
    expect(closed).toBe(true);
  });
});

describe('superfly/tokenizer compatibility', () => {
  function seal(secret: object): string {
    return Buffer.from(sodium.crypto_box_seal(JSON.stringify(secret), Buffer.from(tokenizer.publicKeyHex, 'hex'))).toString('base64');
  }
  const digest = (s: string) => createHash('sha256').update(s).digest('base64');

  it('injects a sealed inject_processor secret for a matching bearer and host', async () => {
    const sealed = seal({ inject_processor: { token: 'tok-REAL' }, bearer_auth: { digest: digest('trustno1') }, allowed_hosts: ['api.example.test'] });
    const r = await curl(apiUrl('/x'), [`Proxy-Tokenizer: ${sealed}`, 'Proxy-Authorization: Bearer trustno1']);
    expect(r.status).toBe(200);
    const echoed = JSON.parse(r.body) as { headers: Record<string, string> };
    expect(echoed.headers.authorization).toBe('Bearer tok-REAL');
    expect(echoed.headers['proxy-tokenizer']).toBeUndefined();
    expect(echoed.headers['proxy-authorization']).toBeUndefined();
  });

  it('honours dst and fmt parameters, and upgrades plain HTTP to TLS upstream', async () => {
    const sealed = seal({ inject_processor: { token: 'tok-2' }, bearer_auth: { digest: digest('pw') } });
    const r = await curl(`http://api.example.test:${upstreamPort}/plain`, [
      `Proxy-Tokenizer: ${sealed}; {"dst":"X-Api-Key","fmt":"key=%s"}`,
      'Proxy-Authorization: Bearer pw',
    ]);
    expect(r.status).toBe(200);
    expect((JSON.parse(r.body) as { headers: Record<string, string> }).headers['x-api-key']).toBe('key=tok-2');
  });

  it('refuses a wrong bearer, a host outside allowed_hosts and a secret sealed to another key', async () => {
    const sealed = seal({ inject_processor: { token: 't' }, bearer_auth: { digest: digest('right') }, allowed_hosts: ['api.example.test'] });
    expect((await curl(apiUrl(), [`Proxy-Tokenizer: ${sealed}`, 'Proxy-Authorization: Bearer wrong'])).status).toBe(403);
    expect(
      (await curl(`https://other.example.test:${upstreamPort}/`, [`Proxy-Tokenizer: ${sealed}`, 'Proxy-Authorization: Bearer right'])).status,
    ).toBe(403);
    const otherKey = sodium.crypto_box_keypair().publicKey;
    const foreign = Buffer.from(
      sodium.crypto_box_seal(JSON.stringify({ inject_processor: { token: 't' }, bearer_auth: { digest: digest('right') } }), otherKey),
    ).toString('base64');
    expect((await curl(apiUrl(), [`Proxy-Tokenizer: ${foreign}`, 'Proxy-Authorization: Bearer right'])).status).toBe(403);
    expect(seen).toEqual([]);
  });
});

describe('egress proxy (transparent mode)', () => {
  it('terminates TLS for the SNI name with a leaf from the install CA and injects', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: proxyPort, servername: 'api.example.test', ca: ca.certPem });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', () => resolve()).once('error', reject));
    expect(socket.authorized).toBe(true);
    socket.write(`GET /t HTTP/1.1\r\nHost: api.example.test\r\nAuthorization: Bearer ${placeholder()}\r\nConnection: close\r\n\r\n`);
    let text = '';
    for await (const chunk of socket) text += chunk;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain(`"authorization":"Bearer ${REAL}"`);
  });

  it('passes upgrades (WebSocket) through with the secret injected', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: proxyPort, servername: 'api.example.test', ca: ca.certPem });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', () => resolve()).once('error', reject));
    socket.write(`GET /ws HTTP/1.1\r\nHost: api.example.test\r\nUpgrade: echo\r\nConnection: Upgrade\r\nAuthorization: Bearer ${placeholder()}\r\n\r\n`);
    let text = '';
    for await (const chunk of socket) {
      text += chunk;
      if (text.includes('\r\n\r\n') && !text.includes('ping')) socket.write('ping');
      if (text.endsWith('ping')) break;
    }
    socket.destroy();
    expect(text).toMatch(/^HTTP\/1\.1 101/);
    expect(text).toContain(`X-Auth: Bearer ${REAL}`);
    expect(text.endsWith('ping')).toBe(true);
  });

  it('refuses a Host header that differs from the TLS name', async () => {
    const socket = tlsConnect({ host: '127.0.0.1', port: proxyPort, servername: 'api.example.test', ca: ca.certPem });
    await new Promise<void>((resolve, reject) => socket.once('secureConnect', () => resolve()).once('error', reject));
    socket.write('GET / HTTP/1.1\r\nHost: other.example.test\r\nConnection: close\r\n\r\n');
    let text = '';
    for await (const chunk of socket) text += chunk;
    expect(text).toMatch(/^HTTP\/1\.1 400/);
  });
});
