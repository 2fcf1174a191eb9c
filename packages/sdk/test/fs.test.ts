// sandbox.fs against the fake server: what goes on the wire for each call (spec §6), and how
// answers and errors come back. The fake answers through its `override` hook; watch gets a
// small WebSocket server of its own.
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { BurrowClient } from '../src/client.js';
import { BurrowError } from '../src/errors.js';
import { FsError } from '../src/fs-errors.js';
import type { FsEntry, FsWatchEvent } from '@burrow/protocol';
import { FakeBurrow, type CannedResponse, type RecordedRequest } from './fake-burrow.js';

const entry = (path: string, type: FsEntry['type'] = 'file'): FsEntry => ({
  name: path.split('/').pop() ?? '',
  path,
  type,
  size: 5,
  mode: type === 'directory' ? '0755' : '0644',
  modTime: '2025-01-01T00:00:00.000Z',
  isDir: type === 'directory',
});

const json = (status: number, body: unknown): CannedResponse => ({ status, body: JSON.stringify(body) });
const enoent = (path: string) => json(404, { error: `${path}: No such file or directory`, code: 'ENOENT', path });

describe('sandbox.fs', () => {
  let fake: FakeBurrow;
  let client: BurrowClient;
  let answer: (request: RecordedRequest) => CannedResponse;
  beforeEach(async () => {
    fake = await FakeBurrow.start();
    fake.addSprite('dev');
    client = new BurrowClient({ baseURL: fake.url, token: fake.token });
    answer = () => json(200, {});
    fake.override = (request) => (request.url.pathname.includes('/fs/') ? answer(request) : undefined);
  });
  afterEach(() => fake.close());

  const fs = () => client.sandbox('dev').fs;
  const last = () => fake.requests.at(-1)!;

  it('reads a file with GET /fs/read, path and workingDir in the query, and the bearer token', async () => {
    answer = () => ({ status: 200, body: 'file content', headers: { 'Content-Type': 'application/octet-stream' } });
    expect((await fs().readFile('/etc/hostname')).toString()).toBe('file content');
    expect(last().method).toBe('GET');
    expect(last().url.pathname).toBe('/v1/sprites/dev/fs/read');
    expect(Object.fromEntries(last().url.searchParams)).toEqual({ path: '/etc/hostname', workingDir: '/' });
    expect(last().headers.authorization).toBe(`Bearer ${fake.token}`);
  });

  it('turns the fs error shape into an FsError with errno code, status and path', async () => {
    answer = () => enoent('/nope');
    const err = await fs().readFile('/nope').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FsError);
    expect(err).toBeInstanceOf(BurrowError);
    expect(err).toMatchObject({ code: 'ENOENT', status: 404, path: '/nope', message: '/nope: No such file or directory' });
    // A readStream reports it as the stream's error, once read.
    const reading = (async () => {
      for await (const _chunk of fs().readStream('/nope'));
    })();
    await expect(reading).rejects.toMatchObject({ code: 'ENOENT', path: '/nope' });
  });

  it('keeps sandbox-level errors as BurrowError with the API code', async () => {
    answer = () => json(404, { error: 'sandbox_not_found', message: "sandbox 'dev' does not exist" });
    const err = await fs().readFile('/x').catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(FsError);
    expect(err).toMatchObject({ code: 'sandbox_not_found', status: 404 });
  });

  it('writes with PUT /fs/write: mkdirParents by default, mode as 4 octal digits, the bytes as the body', async () => {
    await fs().writeFile('notes/a.txt', 'hello', { mode: 0o600, workingDir: '/home/user' });
    expect(last().method).toBe('PUT');
    expect(Object.fromEntries(last().url.searchParams)).toEqual({
      path: 'notes/a.txt',
      workingDir: '/home/user',
      mkdirParents: 'true',
      mode: '0600',
    });
    expect(last().headers['content-type']).toBe('application/octet-stream');
    expect(last().body).toBe('hello');
    await fs().writeFile('/x', new Uint8Array([104, 105]), { mkdirParents: false, mode: '755' });
    expect(last().url.searchParams.get('mkdirParents')).toBeNull();
    expect(last().url.searchParams.get('mode')).toBe('0755');
    expect(last().body).toBe('hi');
  });

  it('streams a Readable body without knowing its length', async () => {
    const parts = Array.from({ length: 50 }, (_, i) => `part ${i};`);
    await fs().writeFile('/stream', Readable.from(parts));
    expect(last().body).toBe(parts.join(''));
    expect(last().headers['transfer-encoding']).toBe('chunked');
  });

  it('refuses a mode that is not a permission mode before sending anything', async () => {
    const before = fake.requests.length;
    await expect(fs().chmod('/x', 'rwxr-xr-x')).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(fs().chmod('/x', 0o17777)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(fake.requests.length).toBe(before);
  });

  it('lists with GET /fs/list; stat is the path’s own entry, from `self` or a file’s single entry', async () => {
    const dir = { path: '/d', self: entry('/d', 'directory'), entries: [entry('/d/a'), entry('/d/b')], count: 2 };
    answer = () => json(200, dir);
    expect((await fs().readdir('/d', { recursive: true, pattern: '*.ts' })).map((e) => e.name)).toEqual(['a', 'b']);
    expect(Object.fromEntries(last().url.searchParams)).toEqual({ path: '/d', workingDir: '/', recursive: 'true', pattern: '*.ts' });
    expect(await fs().stat('/d')).toEqual(dir.self);
    // A server without burrow's `self` field: a file lists as its own single entry.
    answer = () => json(200, { path: '/f', entries: [entry('/f')], count: 1 });
    expect((await fs().stat('/f')).path).toBe('/f');
    answer = () => enoent('/nope');
    expect(await fs().exists('/nope')).toBe(false);
  });

  it('rm sends DELETE with recursive; force ignores only not-found', async () => {
    await fs().rm('/d', { recursive: true });
    expect(last().method).toBe('DELETE');
    expect(Object.fromEntries(last().url.searchParams)).toEqual({ path: '/d', workingDir: '/', recursive: 'true' });
    answer = () => enoent('/gone');
    await fs().rm('/gone', { force: true });
    await expect(fs().rm('/gone')).rejects.toMatchObject({ code: 'ENOENT' });
    answer = () => json(403, { error: 'denied', code: 'EACCES', path: '/etc' });
    await expect(fs().rm('/etc', { force: true })).rejects.toMatchObject({ code: 'EACCES', status: 403 });
  });

  it('sends rename, copy, chmod and chown as camelCase JSON bodies, asRoot only when set', async () => {
    const bodies: unknown[] = [];
    answer = (r) => {
      bodies.push([r.url.pathname.split('/').pop(), JSON.parse(r.body)]);
      return json(200, {});
    };
    const root = fs().with({ asRoot: true, workingDir: '/srv' });
    await fs().rename('/a', '/b');
    await root.copy('a', 'b', { recursive: true, preserveAttrs: true });
    await fs().chmod('/a', 0o755, { recursive: true });
    await root.chown('/a', 'root', 0);
    expect(bodies).toEqual([
      ['rename', { source: '/a', dest: '/b', workingDir: '/' }],
      ['copy', { source: 'a', dest: 'b', workingDir: '/srv', asRoot: true, recursive: true, preserveAttrs: true }],
      ['chmod', { path: '/a', mode: '0755', workingDir: '/', recursive: true }],
      ['chown', { path: '/a', uid: 'root', gid: 0, workingDir: '/srv', asRoot: true }],
    ]);
  });

  it('mkdir writes and removes dir/.keep, and reports failures against the directory', async () => {
    const calls: string[] = [];
    answer = (r) => {
      calls.push(`${r.method} ${r.url.searchParams.get('path')} ${r.url.searchParams.get('mkdirParents')}`);
      return r.url.searchParams.get('path') === '/x/y/.keep' ? enoent('/x/y/.keep') : json(200, {});
    };
    await fs().mkdir('/d');
    await fs().mkdir('/e/f', { recursive: true });
    expect(calls).toEqual(['PUT /d/.keep null', 'DELETE /d/.keep null', 'PUT /e/f/.keep true', 'DELETE /e/f/.keep null']);
    await expect(fs().mkdir('/x/y')).rejects.toMatchObject({ code: 'ENOENT', path: '/x/y' });
  });
});

describe('sandbox.fs.watch', () => {
  it('subscribes once open, delivers events, reports errors and closes', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    const received: unknown[] = [];
    const upgrades: string[] = [];
    wss.on('connection', (ws, req) => {
      upgrades.push(`${req.url} ${req.headers.authorization}`);
      ws.on('message', (data) => {
        received.push(JSON.parse(data.toString()));
        ws.send(JSON.stringify({ type: 'error', message: '/missing: No such file or directory' }));
        ws.send(JSON.stringify({ type: 'subscribed', paths: ['/w'] }));
        ws.send(JSON.stringify({ type: 'event', path: '/w/a', event: 'create', timestamp: '2025-01-01T00:00:00Z', size: 0, isDir: false }));
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const fs = new BurrowClient({ baseURL: url, token: 't' }).sandbox('dev').fs;
      const events: FsWatchEvent[] = [];
      const errors: Error[] = [];
      const watcher = fs.watch(['/w', '/missing'], { recursive: true, asRoot: true, onError: (e) => errors.push(e) }, (e) => events.push(e));
      expect(await watcher.ready).toEqual(['/w']);
      for (let i = 0; i < 50 && events.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await watcher.close();
      expect(upgrades).toEqual(['/v1/sprites/dev/fs/watch?asRoot=true Bearer t']);
      expect(received).toEqual([{ type: 'subscribe', paths: ['/w', '/missing'], recursive: true, workingDir: '/' }]);
      expect(events).toEqual([{ type: 'event', path: '/w/a', event: 'create', timestamp: '2025-01-01T00:00:00Z', size: 0, isDir: false }]);
      expect(errors.map((e) => e.message)).toEqual(['/missing: No such file or directory']);
    } finally {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((r) => server.close(r));
    }
  });

  it('rejects ready with the server’s error when the upgrade is refused', async () => {
    const fake = await FakeBurrow.start();
    try {
      const watcher = new BurrowClient({ baseURL: fake.url, token: fake.token }).sandbox('none').fs.watch('/w', {}, () => {});
      await expect(watcher.ready).rejects.toMatchObject({ status: 404 });
      await watcher.close();
    } finally {
      await fake.close();
    }
  });
});
