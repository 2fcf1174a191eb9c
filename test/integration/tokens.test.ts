// API tokens are macaroons: attenuated tokens never exceed their caveats, over HTTP and over
// WebSocket upgrades; tampered and revoked tokens are refused; the CLI attenuates offline.
import { attenuateToken, BurrowClient, isBurrowError, parseMacaroon, serializeMacaroon } from '@burrow/sdk';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';

const burrow = useInstance();
const dev = sandboxName('tok-dev');
const other = sandboxName('tok-other');

beforeAll(async () => {
  const admin = burrow.client();
  await admin.createSandbox(dev);
  await admin.createSandbox(other, { runtime: 'runc' });
});

function clientWith(token: string): BurrowClient {
  return new BurrowClient({ baseURL: burrow.url, token });
}

async function statusOf(promise: Promise<unknown>): Promise<number | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (e) {
    if (isBurrowError(e)) return e.status;
    throw e;
  }
}

/** The HTTP status a WebSocket exec upgrade is answered with (101 when it goes through). */
function upgradeStatus(token: string, name: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = `${burrow.url.replace(/^http/, 'ws')}/v1/sprites/${name}/exec?cmd=true`;
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    ws.on('upgrade', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('error', reject);
  });
}

/** An exec WebSocket running `sleep 600`, open once the server has upgraded it. */
function openExec(token: string, name: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const url = `${burrow.url.replace(/^http/, 'ws')}/v1/sprites/${name}/exec?cmd=sleep&cmd=600`;
    const ws = new WebSocket(url, { headers: { Authorization: `Bearer ${token}` } });
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** How the server closed the socket; fails if it is still open after `withinMs`. */
function closeOf(ws: WebSocket, withinMs: number): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`the socket was still open after ${withinMs} ms`));
    }, withinMs);
    ws.once('close', (code, reason) => {
      clearTimeout(timer);
      resolve({ code, reason: reason.toString() });
    });
  });
}

describe('API tokens', () => {
  it('the admin token is a macaroon that the SDK and CLI use as before', async () => {
    expect(parseMacaroon(burrow.token).caveats).toEqual([]);
    const r = await burrow.cli(['list']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(dev);
  });

  it('an attenuated token (offline, from the CLI) cannot exceed its caveats, on HTTP or WebSocket', async () => {
    const created = await burrow.cli(['token', 'create', '-d', 'agent', '--sandbox-prefix', sandboxName('tok')]);
    expect(created.code).toBe(0);
    const prefixed = created.stdout.trim();

    // No server call: the CLI works with an unreachable API.
    const attenuated = await burrow.cli(['token', 'attenuate', prefixed, '--sandbox', dev, '--ops', 'exec,read', '--ttl', '1h'], {
      env: { BURROW_API: 'http://127.0.0.1:9' },
    });
    expect(attenuated.code).toBe(0);
    const token = attenuated.stdout.trim();
    const agent = clientWith(token);

    const r = await agent.sandbox(dev).exec('echo', ['hi']);
    expect(r.stdout).toBe('hi\n');
    expect(await upgradeStatus(token, dev)).toBe(101);
    expect((await agent.getSandbox(dev)).name).toBe(dev);

    expect(await upgradeStatus(token, other)).toBe(403);
    expect(await statusOf(agent.getSandbox(other))).toBe(403);
    expect(await statusOf(agent.sandbox(dev).fs.writeFile('/tmp/x', 'x'))).toBe(403);
    expect(await statusOf(agent.createSandbox(sandboxName('tok-new')))).toBe(403);
    expect(await statusOf(agent.listSandboxes())).toBe(403);
    expect(await statusOf(agent.sandbox(dev).delete())).toBe(403);
    expect(await statusOf(agent.sandbox(dev).createCheckpoint())).toBe(403);
    expect(await statusOf(agent.createToken())).toBe(403);
    expect(await statusOf(agent.listTokens())).toBe(403);

    // The prefix token may list its own names only.
    const prefix = clientWith(prefixed);
    expect((await prefix.listSandboxes({ prefix: sandboxName('tok') })).map((s) => s.name).sort()).toEqual([dev, other].sort());
    expect(await statusOf(prefix.listSandboxes())).toBe(403);
  });

  it('a read-only token cannot exec', async () => {
    const { token } = await burrow.client().createToken({ restrictions: { ops: ['read'] } });
    expect(await upgradeStatus(token, dev)).toBe(403);
    const response = await fetch(`${burrow.url}/v1/sprites/${dev}/exec?cmd=true`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: 'forbidden', message: expect.stringContaining("needs 'exec'") });
  });

  it('a write token cannot start code through a service; an exec token can', async () => {
    const put = (token: string, svc: string) =>
      fetch(`${burrow.url}/v1/sprites/${dev}/services/${svc}?duration=0`, {
        method: 'PUT',
        headers: { Authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ cmd: 'sleep', args: ['600'] }),
      });
    const write = await burrow.client().createToken({ restrictions: { ops: ['read', 'write'] } });
    const refused = await put(write.token, 'by-write');
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: 'forbidden', message: expect.stringContaining("needs 'exec'") });
    for (const action of ['start', 'restart']) {
      const r = await fetch(`${burrow.url}/v1/sprites/${dev}/services/by-write/${action}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${write.token}` },
      });
      expect(r.status, action).toBe(403);
    }
    expect((await burrow.client().sandbox(dev).services.list()).map((s) => s.name)).not.toContain('by-write');

    const exec = await burrow.client().createToken({ restrictions: { ops: ['read', 'exec', 'write'] } });
    const allowed = await put(exec.token, 'by-exec');
    expect(allowed.status).toBe(200);
    await allowed.text();
    expect(await statusOf(clientWith(write.token).sandbox(dev).services.delete('by-exec'))).toBe('ok');
  });

  it('a token minted by a restricted token inherits its caveats', async () => {
    const { token } = await burrow.client().createToken({ restrictions: { ops: ['admin', 'read'] } });
    const child = await clientWith(token).createToken({ description: 'child', restrictions: { sandbox: dev } });
    expect(child.caveats).toEqual(['ops = admin,read', `sandbox = ${dev}`, `sandbox-id = ${(await burrow.client().sandbox(dev).refresh()).id}`]);
    expect(await statusOf(clientWith(child.token).getSandbox(other))).toBe(403);
    expect(await upgradeStatus(child.token, dev)).toBe(403);
    // Minting and listing tokens concern every sandbox: a sandbox-bound token attenuates offline instead.
    expect(await statusOf(clientWith(child.token).createToken())).toBe(403);
  });

  it('refuses tampered tokens with 401', async () => {
    const { token } = await burrow.client().createToken({ restrictions: { sandbox: dev } });
    const m = parseMacaroon(token);
    const stripped = serializeMacaroon({ ...m, caveats: [] });
    expect(await statusOf(clientWith(stripped).getSandbox(other))).toBe(401);
    expect(await upgradeStatus(stripped, other)).toBe(401);
    expect(await statusOf(clientWith('not-a-token').listSandboxes())).toBe(401);
  });

  it('refuses revoked tokens and their attenuations, over HTTP and WebSocket', async () => {
    const { token, id } = await burrow.client().createToken({ description: 'to revoke' });
    const child = (await burrow.cli(['token', 'attenuate', token, '--ops', 'read,exec'])).stdout.trim();
    expect(await upgradeStatus(child, dev)).toBe(101);

    const revoked = await burrow.cli(['token', 'revoke', id]);
    expect(revoked.code).toBe(0);
    expect(await statusOf(clientWith(token).listSandboxes())).toBe(401);
    expect(await upgradeStatus(child, dev)).toBe(401);

    const list = await burrow.cli(['token', 'list', '--json']);
    const entry = (JSON.parse(list.stdout) as Array<{ id: string; revoked_at: string | null }>).find((t) => t.id === id);
    expect(entry?.revoked_at).toBeTruthy();
  });

  it('revoking a token revokes the tokens minted with it, and `token list` shows the tree', async () => {
    const parent = await burrow.client().createToken({ description: 'parent' });
    const child = await clientWith(parent.token).createToken({ description: 'child' });
    const grandchild = await clientWith(child.token).createToken({ description: 'grandchild' });
    const listed = await burrow.client().listTokens();
    expect(listed.find((t) => t.id === child.id)?.parent_id).toBe(parent.id);
    expect(listed.find((t) => t.id === grandchild.id)?.parent_id).toBe(child.id);

    const tree = (await burrow.cli(['token', 'list'])).stdout.split('\n');
    const row = (id: string) => tree.findIndex((line) => line.includes(id));
    expect(row(child.id)).toBe(row(parent.id) + 1);
    expect(tree[row(child.id)]).toContain(`└─ ${child.id}`);
    expect(tree[row(grandchild.id)]).toContain(`   └─ ${grandchild.id}`);

    expect((await burrow.cli(['token', 'revoke', parent.id])).code).toBe(0);
    expect(await statusOf(clientWith(grandchild.token).getSandbox(dev))).toBe(401);
    expect(await upgradeStatus(child.token, dev)).toBe(401);
    const after = await burrow.client().listTokens();
    for (const id of [parent.id, child.id, grandchild.id]) expect(after.find((t) => t.id === id)?.revoked_at).toBeTruthy();
  });

  it('revoking a token closes the WebSockets and streams it opened', async () => {
    const parent = await burrow.client().createToken({ description: 'opens sockets' });
    const minted = await clientWith(parent.token).createToken({ description: 'minted' });
    const exec = await openExec(minted.token, dev);
    const attenuated = await openExec(attenuateToken(parent.token, { ops: ['exec'] }), dev);
    const bystander = await openExec(burrow.token, dev);
    const list = await fetch(`${burrow.url}/v1/sprites`, {
      headers: { Authorization: `Bearer ${minted.token}`, Accept: 'application/x-ndjson' },
    });
    const listEnded = list.body!.pipeTo(new WritableStream()).then(
      () => 'ended',
      () => 'cut',
    );

    // Listening before the revocation: the sockets may close before its answer arrives.
    const closes = [closeOf(exec, 15_000), closeOf(attenuated, 15_000)];
    await burrow.client().revokeToken(parent.id);
    for (const closed of closes) expect(await closed).toEqual({ code: 1008, reason: 'token revoked' });
    expect(await Promise.race([listEnded, new Promise((r) => setTimeout(() => r('still open'), 10_000))])).toBe('cut');
    expect(bystander.readyState).toBe(WebSocket.OPEN);
    bystander.close();
  });

  it('a WebSocket closes when the token that opened it expires', async () => {
    const { token } = await burrow.client().createToken({ restrictions: { expires: new Date(Date.now() + 3000) } });
    const exec = await openExec(token, dev);
    expect(await closeOf(exec, 15_000)).toEqual({ code: 1008, reason: 'token expired' });
  });

  it('a token for a sandbox does not open a new sandbox re-created under its name', async () => {
    const name = sandboxName('tok-again');
    const admin = burrow.client();
    await admin.createSandbox(name, { runtime: 'runc' });
    try {
      const minted = await admin.createToken({ restrictions: { sandbox: name } });
      const offline = (await burrow.cli(['token', 'attenuate', '--sandbox', name])).stdout.trim();
      for (const token of [minted.token, offline]) expect((await clientWith(token).getSandbox(name)).name).toBe(name);

      await admin.sandbox(name).delete();
      await admin.createSandbox(name, { runtime: 'runc' });
      for (const token of [minted.token, offline]) {
        const response = await fetch(`${burrow.url}/v1/sprites/${name}`, { headers: { Authorization: `Bearer ${token}` } });
        expect(response.status).toBe(403);
        expect(await response.json()).toEqual({ error: 'forbidden', message: expect.stringContaining('another sandbox of that name') });
        expect(await upgradeStatus(token, name)).toBe(403);
      }
      expect(await statusOf(admin.createToken({ restrictions: { sandbox: sandboxName('tok-nowhere') } }))).toBe(404);
    } finally {
      await admin.sandbox(name).delete().catch(() => {});
    }
  });

  it('refuses an expired token and keeps the admin token unrevokable', async () => {
    const { token } = await burrow.client().createToken({ restrictions: { expires: new Date(Date.now() + 1000) } });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await statusOf(clientWith(token).listSandboxes())).toBe(403);

    const admin = (await burrow.client().listTokens()).find((t) => t.admin)!;
    expect(await statusOf(burrow.client().revokeToken(admin.id))).toBe(409);
  });

  it('keeps the admin token and minted tokens across a restart', async () => {
    const before = burrow.token;
    const { token } = await burrow.client().createToken({ restrictions: { sandbox: dev } });
    await burrow.stop();
    await burrow.start();
    expect(burrow.token).toBe(before);
    expect((await clientWith(token).getSandbox(dev)).name).toBe(dev);
  });
});
