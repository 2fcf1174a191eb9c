// Bad input gets a clear error in the protocol's flat shape and changes nothing.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { availableParallelism, totalmem } from 'node:os';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { CLI, sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { hostState } from '../support/host-state.js';

const burrow = useInstance();
const existing = sandboxName('bad');

beforeAll(async () => {
  await burrow.client().createSandbox(existing);
});

async function call(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(`${burrow.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${burrow.token}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

function expectFlatError(body: unknown, code: string) {
  expect(body).toEqual({ error: code, message: expect.any(String) });
  expect((body as { message: string }).message.length).toBeGreaterThan(10);
}

describe('bad input', () => {
  it.each([
    ['uppercase', 'Dev'],
    ['leading dash', '-dev'],
    ['trailing dash', 'dev-'],
    ['underscore', 'my_box'],
    ['too long', 'a'.repeat(64)],
    ['empty', ''],
    ['path traversal', '../etc'],
    ['unicode', 'dév'],
  ])('refuses an invalid name (%s) with 400', async (_label, name) => {
    const r = await call('POST', '/v1/sprites', JSON.stringify({ name }));
    expect(r.status).toBe(400);
    expectFlatError(r.body, 'invalid_request');
  });

  it('refuses a duplicate name with 409', async () => {
    const r = await call('POST', '/v1/sprites', JSON.stringify({ name: existing }));
    expect(r.status).toBe(409);
    expectFlatError(r.body, 'sandbox_exists');
  });

  it('answers 404 for an unknown sandbox, on every route', async () => {
    const missing = sandboxName('missing');
    for (const [method, path] of [
      ['GET', `/v1/sprites/${missing}`],
      ['DELETE', `/v1/sprites/${missing}`],
      ['GET', `/v1/sprites/${missing}/exec`],
      ['POST', `/v1/sprites/${missing}/exec?cmd=true`],
    ] as const) {
      const r = await call(method, path);
      expect(r.status, `${method} ${path}`).toBe(404);
      expectFlatError(r.body, 'sandbox_not_found');
    }
  });

  it('refuses malformed JSON and unknown fields with 400', async () => {
    const malformed = await call('POST', '/v1/sprites', '{"name": ');
    expect(malformed.status).toBe(400);
    expectFlatError(malformed.body, 'invalid_request');
    const unknown = await call('POST', '/v1/sprites', JSON.stringify({ name: sandboxName('x'), colour: 'red' }));
    expect(unknown.status).toBe(400);
    expectFlatError(unknown.body, 'unknown_field');
    const nested = await call('POST', '/v1/sprites', JSON.stringify({ name: sandboxName('x'), config: { ram_gb: 1 } }));
    expect(nested.status).toBe(400);
    const wrongType = await call('POST', '/v1/sprites', JSON.stringify({ name: sandboxName('x'), config: { cpus: 'many' } }));
    expect(wrongType.status).toBe(400);
    const badRuntime = await call('POST', '/v1/sprites', JSON.stringify({ name: sandboxName('x'), runtime: 'docker' }));
    expect(badRuntime.status).toBe(400);
  });

  it('refuses a missing or wrong token with 401, on HTTP and on WebSocket upgrades', async () => {
    for (const headers of [{ Authorization: '' }, { Authorization: 'Bearer nope' }, { Authorization: `Basic ${burrow.token}` }]) {
      const r = await call('GET', '/v1/sprites', undefined, headers);
      expect(r.status).toBe(401);
      expectFlatError(r.body, 'unauthorized');
    }
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${burrow.url.replace('http', 'ws')}/v1/sprites/${existing}/exec?cmd=true`, {
        headers: { Authorization: 'Bearer wrong' },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(401);
  });

  it('refuses the control socket with 404 so SDKs fall back to plain exec', async () => {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${burrow.url.replace('http', 'ws')}/v1/sprites/${existing}/control`, {
        headers: { Authorization: `Bearer ${burrow.token}` },
      });
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
    });
    expect(status).toBe(404);
  });

  it('refuses bad exec parameters before upgrading', async () => {
    const r = await call('POST', `/v1/sprites/${existing}/exec?cmd=env&env=NOEQUALS`);
    expect(r.status).toBe(400);
    expectFlatError(r.body, 'invalid_request');
  });

  it('passes shell metacharacters through as plain arguments', async () => {
    const sandbox = burrow.client().sandbox(existing);
    const hostile = '$(touch /tmp/pwned); `id`; rm -rf / && echo';
    const r = await sandbox.exec('echo', [hostile]);
    expect(r.stdout).toBe(`${hostile}\n`);
    expect((await sandbox.exec('ls', ['/tmp/pwned'])).exitCode).not.toBe(0);
  });

  it.each(['api', 'www', 'admin', 'localhost'])('refuses the reserved name %s, which would collide with the API\'s host names', async (name) => {
    const r = await call('POST', '/v1/sprites', JSON.stringify({ name }));
    expect(r.status).toBe(400);
    expectFlatError(r.body, 'invalid_request');
    expect(r.body.message).toMatch(/reserved/);
  });

  it('refuses a NUL byte in the environment, in exec env, dir and arguments, and in a service, with 400', async () => {
    const create = await call('POST', '/v1/sprites', JSON.stringify({ name: sandboxName('nul'), environment: { A: 'x\u0000y' } }));
    expect(create.status).toBe(400);
    expectFlatError(create.body, 'invalid_request');
    expect(create.body.message).toMatch(/NUL/);
    const update = await call('PUT', `/v1/sprites/${existing}`, JSON.stringify({ environment: { A: 'x\u0000y' } }));
    expect(update.status).toBe(400);
    for (const query of ['cmd=env&env=A%3Dx%00y', 'cmd=pwd&dir=%2Ftmp%00x', 'cmd=echo&cmd=a%00b', 'cmd=true&path=%2Fbin%2Ftrue%00']) {
      const r = await call('POST', `/v1/sprites/${existing}/exec?${query}`);
      expect(r.status, query).toBe(400);
      expectFlatError(r.body, 'invalid_request');
    }
    const service = await call('PUT', `/v1/sprites/${existing}/services/nul`, JSON.stringify({ cmd: 'sleep', args: ['1\u00002'] }));
    expect(service.status).toBe(400);
    // Nothing was stored: commands still run.
    expect((await burrow.client().sandbox(existing).exec('true')).exitCode).toBe(0);
  });

  it('changes the environment of later commands with PUT', async () => {
    const sandbox = burrow.client().sandbox(existing);
    const r = await call('PUT', `/v1/sprites/${existing}`, JSON.stringify({ environment: { GREETING: 'hello there' } }));
    expect(r.status).toBe(200);
    expect(r.body.environment).toEqual({ GREETING: 'hello there' });
    expect((await sandbox.exec('sh', ['-c', 'echo "$GREETING"'])).stdout).toBe('hello there\n');
    await call('PUT', `/v1/sprites/${existing}`, JSON.stringify({ environment: {} }));
    expect((await sandbox.exec('sh', ['-c', 'echo "[$GREETING]"'])).stdout).toBe('[]\n');
  });

  it('answers a request head over 16 KiB with 431 in the usual error shape', async () => {
    const r = await call('POST', `/v1/sprites/${existing}/exec?cmd=echo&cmd=${'a'.repeat(32 * 1024)}`);
    expect(r.status).toBe(431);
    expectFlatError(r.body, 'headers_too_large');
  });

  it('says why when `burrow exec` gets a 256 KiB command line, and exits 1', async () => {
    const args = Array.from({ length: 256 }, () => 'a'.repeat(1024));
    const run = await promisify(execFile)(process.execPath, [CLI, 'exec', existing, '--', 'echo', ...args], {
      env: { ...process.env, ...burrow.cliEnv() },
    }).then(
      () => ({ code: 0, stderr: '' }),
      (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/over 16 KiB.*stdin/);
  });

  it('refuses limits beyond the host (cores, memory, pool) at create and on change, with the host\'s figures', async () => {
    const hostCpus = availableParallelism();
    const hostRamMb = Math.floor(totalmem() / 2 ** 20);
    const tooBig = { cpus: 256, ram_mb: 262_144, storage_gb: 16_384 };
    const created = await call('POST', '/v1/sprites', JSON.stringify({ name: sandboxName('huge'), config: tooBig }));
    expect(created.status).toBe(400);
    expectFlatError(created.body, 'invalid_limits');
    expect(created.body.message).toContain(`cpus 256 (this host has ${hostCpus} cores)`);
    expect(created.body.message).toContain(`ram_mb 262144 (this host has ${hostRamMb} MB of memory)`);
    expect(created.body.message).toMatch(/storage_gb 16384 \(the storage pool holds \d+ GB\)/);
    const before = (await call('GET', `/v1/sprites/${existing}`)).body;
    for (const config of [{ cpus: hostCpus + 1 }, { ram_mb: hostRamMb + 1 }, { storage_gb: 16_384 }]) {
      const changed = await call('PUT', `/v1/sprites/${existing}`, JSON.stringify({ config }));
      expect(changed.status).toBe(400);
      expectFlatError(changed.body, 'invalid_limits');
    }
    const memory = await call('POST', `/v1/sprites/${existing}/policy/resources`, JSON.stringify({ memory: { limit_mb: hostRamMb + 1 } }));
    expect(memory.status).toBe(400);
    expectFlatError(memory.body, 'invalid_limits');
    expect((await call('GET', `/v1/sprites/${existing}`)).body.config).toEqual(before.config);
    // What the host has is still accepted.
    const fits = await call('PUT', `/v1/sprites/${existing}`, JSON.stringify({ config: { cpus: hostCpus } }));
    expect(fits.status).toBe(200);
  });

  it.each([
    ['an unknown preset', { name: 'k', preset: 'acme', value: 'v' }, /preset/],
    ['neither hosts nor a preset', { name: 'k', inject: 'Authorization: Bearer {}', value: 'v' }, /hosts/],
    ['a host line without a default line', { name: 'k', hosts: ['github.com'], inject: 'github.com=Authorization: Basic {base64:x:{}}', value: 'v' }, /without a host/],
  ])('refuses a secret with %s with 400, and stores nothing', async (_label, body, message) => {
    const r = await call('POST', '/v1/secrets', JSON.stringify(body));
    expect(r.status).toBe(400);
    expectFlatError(r.body, 'invalid_request');
    expect((r.body as { message: string }).message).toMatch(message);
    expect((await call('GET', '/v1/secrets')).body).toEqual({ secrets: [] });
  });

  it('changed nothing: only the one sandbox exists', async () => {
    const state = hostState(burrow.config);
    expect(state.rows).toEqual([existing]);
    expect(state.subvolumes).toHaveLength(1);
    expect(state.netns).toHaveLength(1);
    expect(state.containers).toHaveLength(1);
  });

  it('lists with max_results=100 (clamped, not refused) and pages with a continuation token', async () => {
    const r = await call('GET', '/v1/sprites?max_results=100');
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ has_more: false, org: { running: 1 }, running: 1 });
    const huge = await call('GET', '/v1/sprites?max_results=100000');
    expect(huge.status).toBe(200);
  });

  it('describes itself at /v1/openapi.json', async () => {
    const r = await call('GET', '/v1/openapi.json', undefined, { Authorization: '' });
    expect(r.status).toBe(200);
    expect(r.body.openapi).toMatch(/^3\./);
    expect(Object.keys(r.body.paths)).toContain('/v1/sprites/{name}/exec');
  });
});
