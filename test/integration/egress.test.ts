// The credential-injecting egress proxy from inside real sandboxes: transparent interception
// of HTTPS (curl, Python and Node with no proxy settings), the explicit proxy, tokenizer-sealed
// secrets, every refusal, and the real secret nowhere inside the sandbox; the same from a vm
// sandbox's guest.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertificateAuthority } from '@burrow/server/testing';
import sodium from 'libsodium-wrappers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient } from '@burrow/sdk';
import { FakeInternet } from '../support/fake-internet.js';
import { grepTree } from '../support/grep-tree.js';
import { BurrowInstance, CLI, sandboxName } from '../support/instance.js';
import { until } from '../support/until.js';

const VALUE = `sk_live_${Date.now().toString(36)}_real`;
const AUTH_HASH = `sha256:${createHash('sha256').update(`Bearer ${VALUE}`).digest('hex')}`;
let burrow: BurrowInstance;
let client: BurrowClient;
let internet: FakeInternet;
let dir: string;
const a = sandboxName('eg-a');
const b = sandboxName('eg-b');
/** A vm sandbox: its guest's traffic leaves through the same namespace, rules and proxy. */
const v = sandboxName('eg-vm');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'burrow-egress-it-'));
  const upstreamCa = await CertificateAuthority.open(join(dir, 'upstream-ca'));
  writeFileSync(join(dir, 'upstream-ca.crt'), upstreamCa.certPem);
  internet = new FakeInternet();
  await internet.start(
    { 'api.example.test': 10, 'other.example.test': 11 },
    {
      'api.example.test': await upstreamCa.leafFor('api.example.test'),
      'other.example.test': await upstreamCa.leafFor('other.example.test'),
    },
  );
  burrow = await BurrowInstance.create({
    BURROW_DNS_UPSTREAM: `127.0.0.1:${internet.dnsPort}`,
    BURROW_EGRESS_UPSTREAM_CA: join(dir, 'upstream-ca.crt'),
  });
  await burrow.start();
  client = burrow.client();
  await Promise.all([client.createSandbox(a), client.createSandbox(b, { runtime: 'runc' })]);
  await client.addSecret('stripe', { hosts: ['api.example.test'], inject: 'Authorization: Bearer {}', value: VALUE });
  await client.grantSecret('stripe', a, { env: 'STRIPE_KEY' });
  // Granted while it runs: the placeholder file is copied into the guest.
  await client.createSandbox(v, { runtime: 'vm', config: { ram_mb: 512 } });
  await client.grantSecret('stripe', v, { env: 'STRIPE_KEY' });
}, 600_000);

afterAll(async () => {
  await burrow?.destroy();
  await internet?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const sh = async (name: string, script: string) => client.sandbox(name).exec('sh', ['-c', script]);

/** What the upstream received (it echoes requests; Authorization only as a hash). */
async function echoed(name: string, script: string): Promise<{ headers: Record<string, string>; url: string; method: string }> {
  const r = await sh(name, script);
  expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout) as { headers: Record<string, string>; url: string; method: string };
}

async function statusOf(name: string, args: string): Promise<string> {
  return (await sh(name, `curl -sS -o /dev/null -w '%{http_code}' ${args}`)).stdout;
}

describe('transparent interception', () => {
  it('injects the secret for curl with no proxy settings', async () => {
    const r = await echoed(a, 'curl -sS -m 20 -H "Authorization: Bearer $STRIPE_KEY" https://api.example.test/v1/charges?limit=1');
    expect(r.headers.authorization).toBe(AUTH_HASH);
    expect(r.url).toBe('/v1/charges?limit=1');
  });

  it('injects the secret for Python (urllib, system trust store)', async () => {
    const r = await echoed(
      a,
      `python3 -c "import os, urllib.request as u; print(u.urlopen(u.Request('https://api.example.test/py', headers={'Authorization': 'Bearer ' + os.environ['STRIPE_KEY']})).read().decode())"`,
    );
    expect(r.headers.authorization).toBe(AUTH_HASH);
  });

  it('injects the secret for Node (fetch, NODE_EXTRA_CA_CERTS)', async () => {
    const r = await echoed(
      a,
      `node -e "fetch('https://api.example.test/node', { headers: { authorization: 'Bearer ' + process.env.STRIPE_KEY } }).then((r) => r.text()).then(console.log)"`,
    );
    expect(r.headers.authorization).toBe(AUTH_HASH);
  });

  it('passes requests without placeholders through unchanged', async () => {
    const r = await echoed(a, 'curl -sS -m 20 -H "Authorization: Bearer my-own" -H "X-Trace: 7" https://other.example.test/plain');
    expect(r.headers.authorization).toBe(`sha256:${createHash('sha256').update('Bearer my-own').digest('hex')}`);
    expect(r.headers['x-trace']).toBe('7');
    // Plain HTTP goes through the proxy too, to the same fake internet.
    expect((await sh(a, 'curl -sS -m 20 http://other.example.test/')).stdout).toBe(`hello from ${internet.address(11)}\n`);
  });
});

describe('in a vm sandbox (QEMU under TCG here)', () => {
  it('injects the secret for curl and Python in the guest, which trusts the egress CA and holds only the placeholder', async () => {
    const viaCurl = await echoed(v, 'curl -sS -m 30 -H "Authorization: Bearer $STRIPE_KEY" https://api.example.test/vm');
    expect(viaCurl.headers.authorization).toBe(AUTH_HASH);
    expect(viaCurl.url).toBe('/vm');
    const viaPython = await echoed(
      v,
      `python3 -c "import os, urllib.request as u; print(u.urlopen(u.Request('https://api.example.test/vm-py', headers={'Authorization': 'Bearer ' + os.environ['STRIPE_KEY']})).read().decode())"`,
    );
    expect(viaPython.headers.authorization).toBe(AUTH_HASH);
    const inside = await sh(v, 'echo "$STRIPE_KEY"; cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n"');
    expect(inside.stdout).toMatch(/\S/);
    expect(inside.stdout).not.toContain(VALUE);
  });

  it('refuses its placeholder from another sandbox, as for containers', async () => {
    const placeholder = (await sh(v, 'printf %s "$STRIPE_KEY"')).stdout;
    expect(await statusOf(a, `-m 30 -H "Authorization: Bearer ${placeholder}" https://api.example.test/stolen`)).toBe('403');
  });

  it('gets the placeholder file of a grant made while it runs, and loses it on revoke', async () => {
    const placeholder = (await sh(v, 'printf %s "$STRIPE_KEY"')).stdout;
    const file = () => sh(v, 'cat /.burrow/secrets/stripe 2>/dev/null || echo none').then((r) => r.stdout.trim());
    await until('the placeholder file in the guest', file, { accept: (text) => text === placeholder });
    await client.revokeSecret('stripe', v);
    await until('the placeholder file to go from the guest', file, { accept: (text) => text === 'none' });
    expect((await sh(v, 'printf %s "$STRIPE_KEY"')).stdout).toBe('');
    // Granted while it is warm (paused): the file is copied in when it wakes.
    expect((await client.sandbox(v).sleep()).status).toBe('warm');
    const regranted = await client.grantSecret('stripe', v, { env: 'STRIPE_KEY' });
    expect(await file()).toBe(regranted.placeholder);
  });
});

describe('refusals', () => {
  it('a placeholder sent to a host it is not for: 403, and nothing reaches that host', async () => {
    const before = await seenBy('other.example.test');
    expect(await statusOf(a, '-H "Authorization: Bearer $STRIPE_KEY" https://other.example.test/steal')).toBe('403');
    expect(await seenBy('other.example.test')).toEqual(before);
  });

  it('a tampered or expired placeholder: 403', async () => {
    expect(await statusOf(a, '-H "Authorization: Bearer ${STRIPE_KEY%???}AAA" https://api.example.test/')).toBe('403');
    const expired = (await sh(a, 'python3 /.burrow/egress/burrow-placeholder attenuate "$STRIPE_KEY" --caveat "expires = 2001-01-01T00:00:00Z"')).stdout.trim();
    expect(await statusOf(a, `-H "Authorization: Bearer ${expired}" https://api.example.test/`)).toBe('403');
    const outcomes = (await client.egressLog({ sandbox: a, limit: 2 })).map((e) => e.outcome);
    expect(outcomes).toEqual([expect.stringMatching(/signature|malformed/), expect.stringMatching(/expired/)]);
  });

  it('a placeholder used from another sandbox: 403', async () => {
    const stolen = (await sh(a, 'printf %s "$STRIPE_KEY"')).stdout;
    expect(await statusOf(b, `-H "Authorization: Bearer ${stolen}" https://api.example.test/`)).toBe('403');
    const [entry] = await client.egressLog({ sandbox: b, limit: 1 });
    expect(entry?.outcome).toMatch(new RegExp(`bound to sandbox '${a}'`));
  });

  it('honours caveats added inside the sandbox (GET only, a path prefix)', async () => {
    await sh(a, 'python3 /.burrow/egress/burrow-placeholder attenuate @/.burrow/secrets/stripe --method GET --path-prefix /v1/ --ttl 10m > /tmp/narrow');
    expect(await statusOf(a, '-H "Authorization: Bearer $(cat /tmp/narrow)" https://api.example.test/v1/ok')).toBe('200');
    expect(await statusOf(a, '-X POST -H "Authorization: Bearer $(cat /tmp/narrow)" https://api.example.test/v1/ok')).toBe('403');
    expect(await statusOf(a, '-H "Authorization: Bearer $(cat /tmp/narrow)" https://api.example.test/v2/no')).toBe('403');
  });
});

describe('egress policy', () => {
  it('is enforced by name in the proxy too: a TLS name the policy denies gets 403 even on an allowed address', async () => {
    await client.sandbox(b).setNetworkPolicy({ rules: [{ domain: 'api.example.test', action: 'allow' }] });
    try {
      // Learn api.example.test's address through the sandbox's resolver, then reuse it for another name.
      expect(await statusOf(b, 'https://api.example.test/ok')).toBe('200');
      const api = internet.address(10);
      expect(await statusOf(b, `--resolve other.example.test:443:${api} https://other.example.test/`)).toBe('403');
      expect(await statusOf(b, `-m 5 --resolve other.example.test:443:${internet.address(11)} https://other.example.test/`)).toBe('000');
    } finally {
      await client.sandbox(b).setNetworkPolicy({ rules: [] });
    }
  });
});

describe('explicit proxy and tokenizer clients', () => {
  it('works as HTTPS_PROXY (CONNECT) from inside the sandbox', async () => {
    const r = await echoed(a, 'HTTPS_PROXY=$BURROW_EGRESS_PROXY curl -sS -m 20 -H "Authorization: Bearer $STRIPE_KEY" https://api.example.test/explicit');
    expect(r.headers.authorization).toBe(AUTH_HASH);
  });

  it('opens Proxy-Tokenizer sealed secrets (libsodium sealed box) for the right bearer only', async () => {
    await sodium.ready;
    const key = Buffer.from(await client.tokenizerPublicKey(), 'hex');
    const digest = createHash('sha256').update('trustno1').digest('base64');
    const sealed = Buffer.from(
      sodium.crypto_box_seal(JSON.stringify({ inject_processor: { token: VALUE }, bearer_auth: { digest }, allowed_hosts: ['api.example.test'] }), key),
    ).toString('base64');
    const through = `curl -sS -m 20 -x "$BURROW_EGRESS_PROXY" -H "Proxy-Tokenizer: ${sealed}"`;
    const r = await echoed(b, `${through} -H "Proxy-Authorization: Bearer trustno1" http://api.example.test/tokenizer`);
    expect(r.headers.authorization).toBe(AUTH_HASH);
    expect(r.headers['proxy-tokenizer']).toBeUndefined();
    const wrong = await sh(b, `${through} -H "Proxy-Authorization: Bearer guess" -o /dev/null -w '%{http_code}' http://api.example.test/tokenizer`);
    expect(wrong.stdout).toBe('403');
  });
});

describe('the secret stays outside', () => {
  it('is in no file of the upper layer and no process environment, and every use is audited', async () => {
    await sh(a, 'sleep 60 >/dev/null 2>&1 & true');
    const environ = await sh(a, "sudo sh -c 'cat /proc/[0-9]*/environ' | tr '\\0' '\\n'");
    expect(environ.stdout).toContain('STRIPE_KEY=burrow_ph_');
    expect(environ.stdout).not.toContain(VALUE);
    const sprite = await client.getSandbox(a);
    const upper = join(burrow.config.pool.mountpoint, 'sandboxes', String(sprite.info?.id), 'upper');
    expect(await grepTree(upper, VALUE)).toEqual([]);

    const log = await client.egressLog({ sandbox: a });
    expect(log.filter((e) => e.outcome === 'injected').length).toBeGreaterThanOrEqual(5);
    expect(log.some((e) => e.host === 'other.example.test' && e.status === 403 && e.outcome.startsWith('refused'))).toBe(true);
    const cli = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'secret', 'log', '--sandbox', a], { env: { ...process.env, ...burrow.cliEnv() } });
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c));
      child.on('close', () => resolve(out));
    });
    expect(cli).toMatch(/injected/);
    expect(cli).not.toContain(VALUE);
  });
});

describe('Prometheus counters', () => {
  it('count injections and refusals by reason', async () => {
    const text = await client.metrics();
    const value = (series: string) => Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
    expect(value('burrow_proxy_injections_total')).toBeGreaterThanOrEqual(5);
    expect(value('burrow_proxy_refusals_total{reason="credential"}')).toBeGreaterThanOrEqual(3);
    expect(value('burrow_proxy_refusals_total{reason="policy"}')).toBeGreaterThanOrEqual(1);
  });
});

async function seenBy(host: string): Promise<Array<{ host: string; url: string }>> {
  // From the host, straight to the fake upstream (not through burrow).
  const r = await new Promise<string>((resolve, reject) => {
    const child = spawn('curl', ['-sS', '-k', '--resolve', `${host}:443:${internet.names.get(host)}`, `https://${host}/__seen`]);
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`curl exited ${code}`))));
  });
  return JSON.parse(r) as Array<{ host: string; url: string }>;
}
