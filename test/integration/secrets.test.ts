// Secrets and grants: the sandbox gets a placeholder (file and environment variable), trusts the
// egress CA, can attenuate the placeholder offline, and never holds the real value.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspectToken, parseMacaroon, signatureValid } from '@burrow/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { grepTree } from '../support/grep-tree.js';

const VALUE = `sk_live_${Date.now().toString(36)}_never_inside`;
const burrow = useInstance();
const box = sandboxName('sec');

beforeAll(async () => {
  await burrow.client().createSandbox(box);
});

const sh = async (script: string) => burrow.client().sandbox(box).exec('sh', ['-c', script]);

describe('secrets and placeholders', () => {
  let placeholder = '';

  it('adds a secret from stdin and grants a placeholder bound to the sandbox', async () => {
    const added = await burrow.cli(['secret', 'add', 'stripe', '--host', 'api.example.test', '--inject', 'Authorization: Bearer {}'], { input: `${VALUE}\n` });
    expect(added.code, added.stderr).toBe(0);
    const granted = await burrow.cli(['secret', 'grant', 'stripe', box, '--env', 'STRIPE_KEY', '--ttl', '1h', '--json']);
    expect(granted.code, granted.stderr).toBe(0);
    const grant = JSON.parse(granted.stdout) as { placeholder: string; caveats: string[] };
    placeholder = grant.placeholder;
    expect(placeholder).toMatch(/^burrow_ph_[A-Za-z0-9_-]+$/);
    expect(grant.caveats).toEqual([`sandbox = ${box}`, 'secret = stripe', 'host = api.example.test', expect.stringMatching(/^expires = /)]);

    const list = JSON.parse((await burrow.cli(['secret', 'list', '--json'])).stdout) as Array<Record<string, unknown>>;
    expect(JSON.stringify(list)).not.toContain(VALUE);
    expect(list[0]).toMatchObject({ name: 'stripe', hosts: ['api.example.test'] });
  });

  it('puts the placeholder in the environment and in /.burrow/secrets of the running sandbox', async () => {
    const r = await sh('printf %s "$STRIPE_KEY"; echo; cat /.burrow/secrets/stripe');
    expect(r.stdout).toBe(`${placeholder}\n${placeholder}\n`);
  });

  it('makes the sandbox trust the egress CA (system bundle and the usual variables)', async () => {
    const ca = await (await fetch(`${burrow.url}/v1/egress/ca.crt`, { headers: { Authorization: `Bearer ${burrow.token}` } })).text();
    const r = await sh('echo "$SSL_CERT_FILE $REQUESTS_CA_BUNDLE $NODE_EXTRA_CA_CERTS"; cat /.burrow/egress/ca.crt');
    expect(r.stdout).toBe(`/etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt /.burrow/egress/ca.crt\n${ca}`);
    const py = await sh(
      `python3 -c "import ssl; c = ssl.create_default_context(); print(sum('burrow egress CA' in str(x['subject']) for x in c.get_ca_certs()), len(c.get_ca_certs()) > 50)"`,
    );
    expect(py.stdout).toBe('1 True\n');
  });

  it('lets code inside attenuate its placeholder offline, keeping a valid chain', async () => {
    const r = await sh('python3 /.burrow/egress/burrow-placeholder attenuate @/.burrow/secrets/stripe --method GET --path-prefix /v1/ --ttl 5m');
    expect(r.exitCode, r.stderr).toBe(0);
    const narrowed = r.stdout.trim();
    const { id, caveats } = inspectToken(narrowed.slice('burrow_ph_'.length));
    expect(id).toMatch(/^grant_/);
    expect(caveats.slice(4)).toEqual(['method = GET', 'path-prefix = /v1/', expect.stringMatching(/^expires = \d{4}-/)]);
    const key = readFileSync(join(burrow.home, 'egress', 'placeholder.key'));
    expect(signatureValid(parseMacaroon(narrowed.slice('burrow_ph_'.length)), key)).toBe(true);
  });

  it('never puts the real value inside: not in the upper layer, not in any process environment', async () => {
    const sprite = await burrow.client().getSandbox(box);
    await sh('sleep 30 & echo started');
    const environ = await sh('sudo sh -c \'cat /proc/[0-9]*/environ\' | tr "\\0" "\\n"');
    expect(environ.stdout).toContain('STRIPE_KEY=burrow_ph_');
    expect(environ.stdout).not.toContain(VALUE);
    const upper = join(burrow.config.pool.mountpoint, 'sandboxes', String(sprite.info?.id ?? ''), 'upper');
    expect(await grepTree(upper, VALUE)).toEqual([]);
    // Nor in what burrow binds into it.
    expect(await grepTree(join(burrow.home, 'egress', 'grants'), VALUE)).toEqual([]);
    expect(await grepTree(join(burrow.home, 'egress', 'trust'), VALUE)).toEqual([]);
    // At rest it is sealed: the database does not hold it in the clear either.
    expect(await grepTree(burrow.home, VALUE, ['pool', 'pool.img', 'sandboxes', 'run'])).toEqual([]);
  });

  it('revoking a grant removes the placeholder from the sandbox', async () => {
    const r = await burrow.cli(['secret', 'revoke', 'stripe', box]);
    expect(r.code, r.stderr).toBe(0);
    const after = await sh('ls /.burrow/secrets; printf "[%s]" "$STRIPE_KEY"');
    expect(after.stdout).toBe('[]');
  });

  it('keeps secret management to unrestricted admin tokens', async () => {
    const scoped = (await burrow.cli(['token', 'attenuate', '--sandbox', box])).stdout.trim();
    const response = await fetch(`${burrow.url}/v1/secrets`, { headers: { Authorization: `Bearer ${scoped}` } });
    expect(response.status).toBe(403);
  });
});
