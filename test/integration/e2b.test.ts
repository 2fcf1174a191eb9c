// The E2B-compatible API driven by the real, unmodified `e2b` npm package against a real
// `burrow serve`: the control plane, envd's process and filesystem services over Connect, /files,
// lifetimes (timeout, pause, resume), snapshots, token scoping, and bad input answered in E2B's
// error shape. The SDK is pointed at burrow the way its users do it: apiUrl + sandboxUrl + apiKey.
import { attenuateToken } from '@burrow/sdk';
import { CommandExitError, FileNotFoundError, NotFoundError, Sandbox, SandboxError, TimeoutError } from 'e2b';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useInstance } from '../support/use-instance.js';
import { until } from '../support/until.js';

// E2B's `base` runs on the minimal image: the daemon imports it at start.
const burrow = useInstance({ BURROW_IMAGE: 'minimal' });
const made: string[] = [];
let sbx: Sandbox;

/** How SDK users point it at burrow (the options are the same as the E2B_* variables). */
function conn(apiKey = burrow.token) {
  return { apiUrl: burrow.url, sandboxUrl: burrow.url, apiKey };
}

async function create(opts: Parameters<typeof Sandbox.create>[0] = {}): Promise<Sandbox> {
  const sandbox = await Sandbox.create({ ...conn(), ...opts });
  made.push(sandbox.sandboxId);
  return sandbox;
}

/** A raw request, for what the SDK hides: statuses and exact bodies. */
async function raw(path: string, init: RequestInit & { headers?: Record<string, string> } = {}) {
  const response = await fetch(`${burrow.url}${path}`, init);
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

beforeAll(async () => {
  sbx = await create({ envs: { GREETING: 'hello from create' }, metadata: { suite: 'e2b', run: 'one' } });
}, 300_000);

afterAll(async () => {
  for (const id of made) await Sandbox.kill(id, conn()).catch(() => {});
});

describe('commands', () => {
  it('runs a command under bash -l as user, with the create-time envs', async () => {
    expect(await sbx.isRunning()).toBe(true);
    const result = await sbx.commands.run('echo "$GREETING"; id -un; pwd');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toBe('hello from create\nuser\n/home/user\n');
  });

  it('gives per-command envs over the create-time ones, and a cwd', async () => {
    const result = await sbx.commands.run('echo "$GREETING $EXTRA"; pwd', { envs: { GREETING: 'overridden', EXTRA: 'x' }, cwd: '/tmp' });
    expect(result.stdout).toBe('overridden x\n/tmp\n');
  });

  it('streams stdout and stderr to the callbacks', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const result = await sbx.commands.run('echo one; echo two >&2; echo three', { onStdout: (d) => void out.push(d), onStderr: (d) => void err.push(d) });
    expect(out.join('')).toBe('one\nthree\n');
    expect(err.join('')).toBe('two\n');
    expect(result.stderr).toBe('two\n');
  });

  it('throws CommandExitError with the exit code and output on a non-zero exit', async () => {
    const error = await sbx.commands.run('echo bad >&2; exit 3').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandExitError);
    expect((error as CommandExitError).exitCode).toBe(3);
    expect((error as CommandExitError).stderr).toBe('bad\n');
    expect((error as CommandExitError).message).toBe('exit status 3');
  });

  it('runs as root when asked', async () => {
    expect((await sbx.commands.run('id -u', { user: 'root' })).stdout).toBe('0\n');
  });

  it('lists and kills a background process; a second kill answers false', async () => {
    const handle = await sbx.commands.run('sleep 300', { background: true });
    const listed = await sbx.commands.list();
    const mine = listed.find((p) => p.pid === handle.pid);
    expect(mine).toMatchObject({ cmd: '/bin/bash', args: ['-l', '-c', 'sleep 300'] });
    expect(await sbx.commands.kill(handle.pid)).toBe(true);
    const error = await handle.wait().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CommandExitError);
    await until('the killed process to leave the list', async () => !(await sbx.commands.list()).some((p) => p.pid === handle.pid));
    expect(await sbx.commands.kill(handle.pid)).toBe(false);
  });

  it('keeps a background process running after the client disconnects, and connect() re-attaches', async () => {
    const handle = await sbx.commands.run('sleep 2; echo finished-late', { background: true });
    await handle.disconnect();
    const again = await sbx.commands.connect(handle.pid);
    const result = await again.wait();
    expect(result.stdout).toContain('finished-late');
  });

  it('feeds stdin and closes it', async () => {
    const handle = await sbx.commands.run('cat', { background: true, stdin: true });
    await sbx.commands.sendStdin(handle.pid, 'through stdin\n');
    await sbx.commands.closeStdin(handle.pid);
    expect((await handle.wait()).stdout).toBe('through stdin\n');
  });

  it('kills a command at its timeoutMs and reports a TimeoutError', async () => {
    const started = await sbx.commands.run('echo $$ > /tmp/timed-pid; sleep 120', { timeoutMs: 2_000 }).catch((e: unknown) => e);
    expect(started).toBeInstanceOf(TimeoutError);
    const pid = (await sbx.files.read('/tmp/timed-pid')).trim();
    await until('the timed-out command to be killed', async () => {
      const alive = await sbx.commands.run(`kill -0 ${pid} 2>/dev/null && echo alive || echo gone`);
      return alive.stdout.trim() === 'gone';
    });
  });

  it('runs a terminal that can be written to and resized', async () => {
    let output = '';
    const decoder = new TextDecoder();
    const terminal = await sbx.pty.create({ cols: 100, rows: 30, onData: (d) => void (output += decoder.decode(d)) });
    await sbx.pty.sendInput(terminal.pid, new TextEncoder().encode('stty size\n'));
    await until('the terminal to report its size', () => output.includes('30 100'));
    await sbx.pty.resize(terminal.pid, { cols: 120, rows: 40 });
    await sbx.pty.sendInput(terminal.pid, new TextEncoder().encode('stty size; exit\n'));
    await terminal.wait();
    expect(output).toContain('40 120');
  });
});

describe('files', () => {
  it('writes and reads text and bytes', async () => {
    const info = await sbx.files.write('/home/user/notes/a.txt', 'some text');
    expect(info).toMatchObject({ name: 'a.txt', path: '/home/user/notes/a.txt', type: 'file' });
    expect(await sbx.files.read('/home/user/notes/a.txt')).toBe('some text');
    const bytes = Uint8Array.from([0, 1, 2, 250, 255]);
    await sbx.files.write('bin.dat', bytes.buffer);
    expect(Array.from(await sbx.files.read('/home/user/bin.dat', { format: 'bytes' }))).toEqual([0, 1, 2, 250, 255]);
  });

  it('writes many files in one multipart request, by their full paths', async () => {
    const infos = await sbx.files.write([
      { path: '/home/user/many/x.txt', data: 'x' },
      { path: 'many/deeper/y.txt', data: 'y' },
    ]);
    expect(infos.map((i) => i.path)).toEqual(['/home/user/many/x.txt', '/home/user/many/deeper/y.txt']);
    expect(await sbx.files.read('/home/user/many/deeper/y.txt')).toBe('y');
  });

  it('uploads a raw octet-stream body, gzip-compressed or not', async () => {
    await sbx.files.write('/home/user/raw.txt', 'raw body', { useOctetStream: true });
    expect(await sbx.files.read('/home/user/raw.txt')).toBe('raw body');
    await sbx.files.write('/home/user/zipped.txt', 'zipped body '.repeat(100), { gzip: true });
    expect(await sbx.files.read('/home/user/zipped.txt')).toBe('zipped body '.repeat(100));
  });

  it('lists, stats, makes directories, renames and removes', async () => {
    await sbx.files.write('/home/user/tree/one.txt', '1');
    await sbx.files.write('/home/user/tree/sub/two.txt', '22');
    const shallow = await sbx.files.list('/home/user/tree');
    expect(shallow.map((e) => [e.name, e.type]).sort()).toEqual([['one.txt', 'file'], ['sub', 'dir']]);
    const deep = await sbx.files.list('/home/user/tree', { depth: 2 });
    expect(deep.map((e) => e.path).sort()).toEqual(['/home/user/tree/one.txt', '/home/user/tree/sub', '/home/user/tree/sub/two.txt']);
    const info = await sbx.files.getInfo('/home/user/tree/sub/two.txt');
    expect(info).toMatchObject({ name: 'two.txt', type: 'file', size: 2, permissions: '-rw-r--r--' });
    expect(info.modifiedTime).toBeInstanceOf(Date);
    expect(await sbx.files.exists('/home/user/tree/one.txt')).toBe(true);
    expect(await sbx.files.exists('/home/user/tree/none.txt')).toBe(false);
    expect(await sbx.files.makeDir('/home/user/tree/made/deep')).toBe(true);
    expect(await sbx.files.makeDir('/home/user/tree/made/deep')).toBe(false);
    const moved = await sbx.files.rename('/home/user/tree/one.txt', '/home/user/tree/made/one.txt');
    expect(moved).toMatchObject({ name: 'one.txt', path: '/home/user/tree/made/one.txt', type: 'file' });
    await sbx.files.remove('/home/user/tree');
    expect(await sbx.files.exists('/home/user/tree')).toBe(false);
  });

  it('reports a missing file as FileNotFoundError', async () => {
    await expect(sbx.files.read('/home/user/missing.txt')).rejects.toBeInstanceOf(FileNotFoundError);
    await expect(sbx.files.getInfo('/home/user/missing.txt')).rejects.toBeInstanceOf(FileNotFoundError);
  });

  it('watches a directory', async () => {
    await sbx.files.makeDir('/home/user/watched');
    const events: string[] = [];
    const watcher = await sbx.files.watchDir('/home/user/watched', (e) => void events.push(`${e.type} ${e.name}`), { recursive: true });
    await sbx.files.write('/home/user/watched/new.txt', 'x');
    await until('a create event for new.txt', () => events.some((e) => e === 'create new.txt'));
    await watcher.stop();
  });
});

describe('other ports', () => {
  it('proxies any other E2b-Sandbox-Port into the sandbox, with the access token', async () => {
    await sbx.files.write('/home/user/site/index.txt', 'served from inside');
    await sbx.commands.run('cd /home/user/site && python3 -m http.server 8000', { background: true });
    const headers = { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '8000' };
    const served = await until('the server inside to answer through the proxy', () =>
      raw('/index.txt', { headers: { ...headers, 'X-Access-Token': sbx.envdAccessToken! } }), { accept: (r) => r.status === 200 });
    expect(served.text).toBe('served from inside');
    expect((await raw('/index.txt', { headers })).status).toBe(401);
  });

  it('makes getHost(port) a sandbox URL when E2B_DOMAIN is burrow’s URL domain', async () => {
    const port = Number(new URL(burrow.url).port);
    const connected = await Sandbox.connect(sbx.sandboxId, { ...conn(), domain: `localhost:${port}` });
    const host = connected.getHost(8000);
    expect(host).toBe(`8000-${sbx.sandboxId}.localhost:${port}`);
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/index.txt', headers: { host, Authorization: `Bearer ${burrow.token}` } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(answer).toEqual({ status: 200, body: 'served from inside' });
  });

  it("leaves a sandbox URL's paths to the sandbox's app, even E2B's control-plane paths", async () => {
    await sbx.files.write('/home/user/app/sandboxes', 'the app answers /sandboxes');
    await sbx.commands.run('cd /home/user/app && python3 -m http.server 8080', { background: true });
    const port = Number(new URL(burrow.url).port);
    const viaUrl = () =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port, path: '/sandboxes', headers: { host: `${sbx.sandboxId}.localhost:${port}`, Authorization: `Bearer ${burrow.token}` } },
          (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    const answer = await until('the app behind the sandbox URL to answer', viaUrl, { accept: (r) => r.status === 200 });
    expect(answer.body).toBe('the app answers /sandboxes');
  });

  it("asks no token on the code interpreter's /contexts, and one on /execute", async () => {
    const jupyter = { 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49999' };
    // Nothing listens on 49999 in this image: passing the token check means reaching the port.
    const contexts = await raw('/contexts', { headers: jupyter });
    expect(contexts.status).toBe(502);
    expect(contexts.json).toMatchObject({ code: 502, message: expect.stringContaining('port 49999') });
    expect((await raw('/execute', { method: 'POST', headers: jupyter, body: '{}' })).status).toBe(401);
  });
});

describe('the control plane', () => {
  it('answers getInfo with the template, state and metadata', async () => {
    const info = await sbx.getInfo();
    expect(info).toMatchObject({ sandboxId: sbx.sandboxId, templateId: 'base', state: 'running', metadata: { suite: 'e2b', run: 'one' } });
    expect(info.endAt.getTime()).toBeGreaterThan(Date.now());
  });

  it('lists sandboxes by metadata', async () => {
    const matching = await Sandbox.list({ ...conn(), query: { metadata: { suite: 'e2b', run: 'one' } } }).nextItems();
    expect(matching.map((s) => s.sandboxId)).toEqual([sbx.sandboxId]);
    const none = await Sandbox.list({ ...conn(), query: { metadata: { suite: 'e2b', run: 'other value' } } }).nextItems();
    expect(none).toEqual([]);
  });

  it('moves the deadline with setTimeout', async () => {
    await sbx.setTimeout(3_600_000);
    const info = await sbx.getInfo();
    expect(info.endAt.getTime()).toBeGreaterThan(Date.now() + 3_000_000);
  });

  it('reports metrics', async () => {
    const metrics = await sbx.getMetrics();
    expect(metrics.length).toBeGreaterThan(0);
    expect(metrics[0]!.memUsed).toBeGreaterThan(0);
  });

  it('kills a sandbox; a second kill answers false and its envd is gone', async () => {
    const doomed = await create();
    expect(await doomed.kill()).toBe(true);
    expect(await Sandbox.kill(doomed.sandboxId, conn())).toBe(false);
    expect(await doomed.isRunning()).toBe(false);
    await expect(Sandbox.getInfo(doomed.sandboxId, conn())).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('tokens', () => {
  it('refuses an API key attenuated to another sandbox', async () => {
    const other = attenuateToken(burrow.token, { sandbox: 'some-other-sandbox' });
    await expect(Sandbox.getInfo(sbx.sandboxId, conn(other))).rejects.toBeInstanceOf(SandboxError);
    await expect(Sandbox.kill(sbx.sandboxId, conn(other))).rejects.toBeInstanceOf(SandboxError);
    expect(await Sandbox.list({ ...conn(other) }).nextItems()).toEqual([]);
    expect(await sbx.isRunning()).toBe(true);
  });

  it("refuses envd traffic with another sandbox's access token", async () => {
    const other = await create();
    const otherToken = other.envdAccessToken!;
    expect(otherToken).toBeTruthy();
    const headers = { 'Content-Type': 'application/json', 'Connect-Protocol-Version': '1', 'E2b-Sandbox-Id': sbx.sandboxId, 'E2b-Sandbox-Port': '49983' };
    const refused = await raw('/process.Process/List', { method: 'POST', headers: { ...headers, 'X-Access-Token': otherToken }, body: '{}' });
    expect(refused.status).toBe(401);
    expect(refused.json).toMatchObject({ code: 'unauthenticated' });
    const missing = await raw('/files?path=/etc/hostname', { headers: { 'E2b-Sandbox-Id': sbx.sandboxId } });
    expect(missing.status).toBe(401);
    await other.kill();
  });
});

describe('lifetimes', () => {
  it('pauses and resumes a sandbox, keeping its background process', async () => {
    const box = await create();
    const counter = await box.commands.run('i=0; while true; do i=$((i+1)); echo $i > /tmp/count; sleep 0.2; done', { background: true });
    expect(await box.pause()).toBe(true);
    expect(await box.pause()).toBe(false);
    expect(await box.isRunning()).toBe(false);
    expect((await Sandbox.getInfo(box.sandboxId, conn())).state).toBe('paused');
    const resumed = await Sandbox.connect(box.sandboxId, conn());
    expect((await resumed.commands.list()).map((p) => p.pid)).toContain(counter.pid);
    const first = Number(await resumed.files.read('/tmp/count'));
    await until('the counter to go on counting', async () => Number(await resumed.files.read('/tmp/count')) > first);
    await resumed.kill();
  });

  it('destroys a sandbox at its timeout', async () => {
    const box = await create({ timeoutMs: 3_000 });
    await until('the sandbox to be destroyed at its timeout', () => Sandbox.getInfo(box.sandboxId, conn()).then(() => false, (e: unknown) => e instanceof NotFoundError));
  });

  it('pauses a sandbox at its timeout when asked to', async () => {
    const box = await create({ timeoutMs: 3_000, lifecycle: { onTimeout: 'pause' } });
    await until('the sandbox to be paused at its timeout', async () => (await Sandbox.getInfo(box.sandboxId, conn())).state === 'paused');
    await box.kill();
  });
});

describe('snapshots', () => {
  it('snapshots a sandbox and creates a new one from the snapshot', async () => {
    await sbx.files.write('/home/user/before-snapshot.txt', 'kept in the snapshot');
    const snapshot = await sbx.createSnapshot({ name: 'first' });
    await sbx.files.write('/home/user/before-snapshot.txt', 'changed after');
    const copy = await create({ template: snapshot.snapshotId });
    expect(copy.sandboxId).not.toBe(sbx.sandboxId);
    expect(await copy.files.read('/home/user/before-snapshot.txt')).toBe('kept in the snapshot');
    expect(await sbx.files.read('/home/user/before-snapshot.txt')).toBe('changed after');
    await copy.kill();
  });

  it('forks a running sandbox into copies of its disk', async () => {
    await sbx.files.write('/home/user/before-fork.txt', 'forked');
    const copies = await sbx.fork({ count: 2 });
    expect(copies).toHaveLength(2);
    for (const copy of copies) {
      if (copy instanceof Error) throw copy;
      made.push(copy.sandboxId);
      expect(await copy.files.read('/home/user/before-fork.txt')).toBe('forked');
      expect((await copy.getInfo()).metadata).toEqual({ suite: 'e2b', run: 'one' });
      await copy.kill();
    }
    await expect(Sandbox.fork('e2b-0000000000000000', conn())).rejects.toBeInstanceOf(NotFoundError);
  });

  it('lists and deletes snapshots', async () => {
    const older = await sbx.createSnapshot();
    const newer = await sbx.createSnapshot();
    const listed = await Sandbox.listSnapshots({ ...conn(), sandboxId: sbx.sandboxId }).nextItems();
    expect(listed.map((s) => s.snapshotId)).toEqual(expect.arrayContaining([older.snapshotId, newer.snapshotId]));
    expect(await Sandbox.deleteSnapshot(older.snapshotId, conn())).toBe(true);
    expect(await Sandbox.deleteSnapshot(older.snapshotId, conn())).toBe(false);
    // The newest is the checkpoint the sandbox's disk stands on: burrow keeps it while it does.
    await expect(Sandbox.deleteSnapshot(newer.snapshotId, conn())).rejects.toThrow(/409/);
  });
});

describe('bad input', () => {
  const key = () => ({ 'X-API-KEY': burrow.token, 'Content-Type': 'application/json' });

  it('answers an unknown sandbox with NotFoundError and false', async () => {
    await expect(Sandbox.connect('e2b-0000000000000000', conn())).rejects.toBeInstanceOf(NotFoundError);
    await expect(Sandbox.getInfo('e2b-0000000000000000', conn())).rejects.toBeInstanceOf(NotFoundError);
    expect(await Sandbox.kill('e2b-0000000000000000', conn())).toBe(false);
    expect(await Sandbox.kill('Not A Name!', conn())).toBe(false);
  });

  it('answers bad bodies and queries with 400 in E2B’s shape, never 500', async () => {
    for (const [path, init] of [
      ['/v2/sandboxes', { method: 'POST', headers: key(), body: '{not json' }],
      ['/v2/sandboxes', { method: 'POST', headers: key(), body: JSON.stringify({ templateID: 'base', timeout: -1 }) }],
      ['/v2/sandboxes', { method: 'POST', headers: key(), body: JSON.stringify({ templateID: 'base', envVars: { A: 1 } }) }],
      ['/v2/sandboxes?state=sleeping', { headers: key() }],
      ['/v2/sandboxes?metadata=k%3D%25E0%25A4%25A', { headers: key() }],
      [`/sandboxes/${sbx.sandboxId}/timeout`, { method: 'POST', headers: key(), body: JSON.stringify({ timeout: 'soon' }) }],
    ] as const) {
      const answer = await raw(path, init as RequestInit);
      expect(answer.status, `${path} ${JSON.stringify(init)}`).toBe(400);
      expect(answer.json).toMatchObject({ code: 400, message: expect.any(String) });
    }
  });

  it('answers a missing or wrong API key with 401', async () => {
    expect((await raw('/v2/sandboxes')).json).toMatchObject({ code: 401 });
    expect((await raw('/v2/sandboxes', { headers: { 'X-API-KEY': 'not-a-token' } })).status).toBe(401);
  });

  it('answers envd requests for an unknown sandbox with 502, and bad envd input with 4xx', async () => {
    const unknown = await raw('/health', { headers: { 'E2b-Sandbox-Id': 'e2b-0000000000000000', 'E2b-Sandbox-Port': '49983' } });
    expect(unknown.status).toBe(502);
    const token = sbx.envdAccessToken!;
    const envd = { 'E2b-Sandbox-Id': sbx.sandboxId, 'X-Access-Token': token };
    expect((await raw('/files', { headers: envd })).status).toBe(400);
    expect((await raw('/files?path=/home/user&username=mallory', { headers: envd })).status).toBe(401);
    expect((await raw('/files?path=/home/user', { method: 'POST', headers: { ...envd, 'Content-Type': 'multipart/form-data; boundary=x' }, body: 'garbage' })).status).toBe(400);
    // A Start without a command: a Connect stream whose end frame carries invalid_argument.
    const message = Buffer.from('{"process":{}}');
    const envelope = Buffer.concat([Buffer.of(0), Buffer.alloc(4), message]);
    envelope.writeUInt32BE(message.length, 1);
    const badRpc = await fetch(`${burrow.url}/process.Process/Start`, {
      method: 'POST',
      headers: { ...envd, 'Content-Type': 'application/connect+json', 'Connect-Protocol-Version': '1' },
      body: envelope,
    });
    const frames = Buffer.from(await badRpc.arrayBuffer());
    expect(badRpc.status).toBe(200);
    expect(frames[0]).toBe(2); // the end-stream frame, with the error
    expect(JSON.parse(frames.subarray(5).toString())).toMatchObject({ error: { code: 'invalid_argument' } });
    expect((await raw('/nope', { headers: envd })).status).toBe(404);
    expect((await raw('/health', { headers: { ...envd, 'E2b-Sandbox-Port': 'abc' } })).status).toBe(400);
  });
});

// Last: it restarts the daemon, whose new port the sandboxes made before do not know.
describe('a daemon restart', () => {
  it('keeps deadlines: one that passed while the daemon was down fires once it is back', async () => {
    const box = await create({ timeoutMs: 15_000 });
    // A command's stream is open while the daemon stops: the stop must not wait for it.
    await box.commands.run('sleep 600', { background: true });
    const { endAt } = await box.getInfo();
    expect(await box.isRunning()).toBe(true);
    await burrow.stop();
    await until('the deadline to pass while the daemon is down', () => Date.now() > endAt.getTime() + 1_000, { timeoutMs: 30_000 });
    await burrow.start();
    await until('the sandbox to be destroyed after the restart', () =>
      Sandbox.getInfo(box.sandboxId, conn()).then(() => false, (e: unknown) => e instanceof NotFoundError),
    );
  });
});
