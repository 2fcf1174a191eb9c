// The filesystem API (spec section 6) against a real gVisor sandbox: every endpoint through the
// SDK and on the wire, and the attacks it must withstand. Paths must always resolve in the
// sandbox's view: a marker file planted on the host (and the daemon's own admin token) must
// never be readable or writable through the API, however the path is spelled or raced.
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BurrowClient, FsWatchEvent, Sandbox, SandboxFilesystem } from '@burrow/sdk';
import { CLI, RUN_ID, sandboxName } from '../support/instance.js';
import { useInstance } from '../support/use-instance.js';
import { peakRss } from '../support/memory.js';

const burrow = useInstance();
let client: BurrowClient;
let sandbox: Sandbox;
let fs: SandboxFilesystem;
const name = sandboxName('fs');
/** A file on the host, outside every sandbox: nothing may ever read or change it. */
const MARKER = `/tmp/burrow-fs-marker-${RUN_ID}`;
const MARKER_TEXT = `host secret ${randomBytes(16).toString('hex')}\n`;
const HOME = '/home/user';

beforeAll(async () => {
  await writeFile(MARKER, MARKER_TEXT, { mode: 0o644 });
  client = burrow.client();
  sandbox = await client.createSandbox(name);
  fs = sandbox.fs;
});

afterAll(async () => {
  await rm(MARKER, { force: true });
});

/** A raw call, for what the SDK hides: statuses, headers, exact bodies. */
async function call(method: string, op: string, query: Record<string, string> = {}, body?: unknown) {
  const search = new URLSearchParams(query).toString();
  const response = await fetch(`${burrow.url}/v1/sprites/${name}/fs/${op}${search ? `?${search}` : ''}`, {
    method,
    headers: {
      Authorization: `Bearer ${burrow.token}`,
      ...(body === undefined ? {} : { 'Content-Type': typeof body === 'string' ? 'application/octet-stream' : 'application/json' }),
    },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString());
  } catch {
    json = undefined;
  }
  return { status: response.status, type: response.headers.get('content-type'), bytes, json: json as Record<string, unknown> };
}

/** Runs a shell line in the sandbox (as the user, or as root through sudo), expecting success. */
async function sh(line: string): Promise<string> {
  const r = await sandbox.exec('bash', ['-c', line]);
  if (r.exitCode !== 0) throw new Error(`${line} exited ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** What a process in the sandbox sees at `path`: its bytes, or null when it cannot read it. */
async function insideView(path: string, asRoot: boolean): Promise<Buffer | null> {
  const argv = asRoot ? ['sudo', 'cat', '--', path] : ['cat', '--', path];
  const r = await sandbox.execBuffer(argv[0]!, argv.slice(1));
  return r.exitCode === 0 ? r.stdout : null;
}

function expectFsError(r: { status: number; json: Record<string, unknown> }, status: number, code: string, path?: string) {
  expect(r.status).toBe(status);
  expect(r.json).toMatchObject({ error: expect.any(String), code, path: path ?? expect.any(String) });
}

describe('the fs endpoints', () => {
  it('write then read: raw bytes in, the same bytes out, as application/octet-stream', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const put = await fetch(`${burrow.url}/v1/sprites/${name}/fs/write?path=bin/all-bytes&workingDir=${HOME}&mkdirParents=true&mode=0640`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${burrow.token}`, 'Content-Type': 'application/octet-stream' },
      body: bytes,
    });
    expect(put.status).toBe(200);
    const read = await call('GET', 'read', { path: `${HOME}/bin/all-bytes` });
    expect(read.status).toBe(200);
    expect(read.type).toBe('application/octet-stream');
    expect(read.bytes).toEqual(bytes);
    // As the sandbox user by default: the user owns what the API writes.
    expect(await sh(`stat -c '%U %a' ${HOME}/bin/all-bytes`)).toBe('user 640\n');
  });

  it('write replaces content, applies mode to an existing file, and writes as root only when asked', async () => {
    await fs.writeFile(`${HOME}/replace.txt`, 'a much longer first version');
    await fs.writeFile(`${HOME}/replace.txt`, 'short', { mode: 0o600 });
    expect((await fs.readFile(`${HOME}/replace.txt`)).toString()).toBe('short');
    expect(await sh(`stat -c '%a' ${HOME}/replace.txt`)).toBe('600\n');
    await fs.with({ asRoot: true }).writeFile('/etc/burrow-fs-test', 'root wrote this');
    expect(await sh('stat -c %U /etc/burrow-fs-test; cat /etc/burrow-fs-test')).toBe('root\nroot wrote this');
  });

  it('mkdirParents creates every parent; without it only the immediate parent is made (like mkdir)', async () => {
    const deep = await call('PUT', 'write', { path: `${HOME}/p/q/r/file`, mkdirParents: 'true' }, 'x');
    expect(deep.status).toBe(200);
    const one = await call('PUT', 'write', { path: `${HOME}/p/new/file` }, 'x');
    expect(one.status).toBe(200);
    const two = await call('PUT', 'write', { path: `${HOME}/p/none/deeper/file` }, 'x');
    expectFsError(two, 404, 'ENOENT', `${HOME}/p/none/deeper/file`);
    // So the Sprites SDK's non-recursive mkdir (write dir/.keep, delete it) works.
    await fs.mkdir(`${HOME}/p/made`);
    expect((await fs.stat(`${HOME}/p/made`)).type).toBe('directory');
  });

  it('resolves relative paths against workingDir, which defaults to /', async () => {
    expect((await call('GET', 'read', { path: 'etc/hostname' })).bytes.toString()).toBe(`${name}\n`);
    expect((await call('GET', 'read', { path: 'bin/all-bytes', workingDir: HOME })).status).toBe(200);
  });

  it('lists a directory in the spec shape, and a file as its own single entry', async () => {
    await sh(`mkdir -p ${HOME}/ls/sub && echo hi > ${HOME}/ls/a.txt && echo there > ${HOME}/ls/sub/b.md && ln -s /etc ${HOME}/ls/link`);
    const dir = await call('GET', 'list', { path: `${HOME}/ls` });
    expect(dir.status).toBe(200);
    expect(dir.json).toMatchObject({ path: `${HOME}/ls`, count: 3 });
    const entries = dir.json.entries as Array<Record<string, unknown>>;
    expect(entries.map((e) => [e.name, e.type, e.isDir])).toEqual([
      ['a.txt', 'file', false],
      ['link', 'symlink', false],
      ['sub', 'directory', true],
    ]);
    expect(entries[0]).toEqual({
      name: 'a.txt',
      path: `${HOME}/ls/a.txt`,
      type: 'file',
      size: 3,
      mode: '0644',
      modTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      isDir: false,
    });
    const file = await call('GET', 'list', { path: `${HOME}/ls/a.txt` });
    expect(file.json).toMatchObject({ count: 1, entries: [{ name: 'a.txt', path: `${HOME}/ls/a.txt`, type: 'file' }] });
    const recursive = await fs.readdir(`${HOME}/ls`, { recursive: true });
    expect(recursive.map((e) => e.path)).toEqual([`${HOME}/ls/a.txt`, `${HOME}/ls/link`, `${HOME}/ls/sub`, `${HOME}/ls/sub/b.md`]);
    const md = await call('GET', 'list', { path: `${HOME}/ls`, recursive: 'true', pattern: '*.md' });
    expect((md.json.entries as Array<{ path: string }>).map((e) => e.path)).toEqual([`${HOME}/ls/sub/b.md`]);
    expect(await fs.stat(`${HOME}/ls`)).toMatchObject({ type: 'directory', path: `${HOME}/ls` });
  });

  it('deletes files, empty directories and (recursive) trees; a non-empty directory is 409', async () => {
    await sh(`mkdir -p ${HOME}/del/empty ${HOME}/del/full/x && touch ${HOME}/del/f ${HOME}/del/full/x/y`);
    expect((await call('DELETE', 'delete', { path: `${HOME}/del/f` })).status).toBe(200);
    expect((await call('DELETE', 'delete', { path: `${HOME}/del/empty` })).status).toBe(200);
    expectFsError(await call('DELETE', 'delete', { path: `${HOME}/del/full` }), 409, 'ENOTEMPTY', `${HOME}/del/full`);
    expect((await call('DELETE', 'delete', { path: `${HOME}/del/full`, recursive: 'true' })).status).toBe(200);
    expectFsError(await call('DELETE', 'delete', { path: `${HOME}/del/f` }), 404, 'ENOENT', `${HOME}/del/f`);
    await fs.rm(`${HOME}/del/f`, { force: true });
    expect(await sh(`ls -A ${HOME}/del`)).toBe('');
  });

  it('renames, also onto another mount (/tmp is bound on its own)', async () => {
    await fs.writeFile(`${HOME}/mv-src`, 'moving');
    expect((await call('POST', 'rename', {}, { source: 'mv-src', dest: 'mv-dst', workingDir: HOME })).status).toBe(200);
    await fs.rename(`${HOME}/mv-dst`, '/tmp/mv-across');
    expect(await sh(`cat /tmp/mv-across; ls ${HOME}/mv-src ${HOME}/mv-dst 2>&1 | wc -l`)).toBe('moving2\n');
    expectFsError(await call('POST', 'rename', {}, { source: `${HOME}/nope`, dest: `${HOME}/x`, workingDir: '/' }), 404, 'ENOENT');
  });

  it('copies files and, with recursive, trees; preserveAttrs keeps mode and times', async () => {
    await sh(`mkdir -p ${HOME}/cp/d && echo one > ${HOME}/cp/d/one && chmod 600 ${HOME}/cp/d/one && touch -d 2020-01-02 ${HOME}/cp/d/one`);
    expectFsError(await call('POST', 'copy', {}, { source: `${HOME}/cp/d`, dest: `${HOME}/cp/e`, workingDir: '/' }), 400, 'EISDIR');
    await fs.copy(`${HOME}/cp/d`, `${HOME}/cp/e`, { recursive: true, preserveAttrs: true });
    await fs.copy(`${HOME}/cp/d/one`, `${HOME}/cp/plain`);
    const attrs = await sh(`cd ${HOME}/cp && stat -c '%n %a %y' e/one plain`);
    expect(attrs).toMatch(/^e\/one 600 2020-01-02 /m);
    expect(attrs).not.toMatch(/^plain .* 2020-01-02 /m);
  });

  it('chmods, also recursively', async () => {
    await sh(`mkdir -p ${HOME}/mod/sub && touch ${HOME}/mod/sub/f`);
    expect((await call('POST', 'chmod', {}, { path: `${HOME}/mod`, workingDir: '/', mode: '0750' })).status).toBe(200);
    expect(await sh(`stat -c %a ${HOME}/mod ${HOME}/mod/sub/f`)).toBe('750\n644\n');
    await fs.chmod(`${HOME}/mod`, 0o700, { recursive: true });
    expect(await sh(`stat -c %a ${HOME}/mod ${HOME}/mod/sub ${HOME}/mod/sub/f`)).toBe('700\n700\n700\n');
    expectFsError(await call('POST', 'chmod', {}, { path: `${HOME}/mod`, workingDir: '/', mode: 'rwx' }), 400, 'EINVAL');
  });

  it('chowns by name or number, recursively, as root only: the user gets EPERM', async () => {
    await sh(`mkdir -p ${HOME}/own/sub && touch ${HOME}/own/sub/f`);
    expectFsError(await call('POST', 'chown', {}, { path: `${HOME}/own`, workingDir: '/', uid: 'root' }), 403, 'EPERM', `${HOME}/own`);
    const ok = await call('POST', 'chown', {}, { path: `${HOME}/own`, workingDir: '/', uid: 'root', gid: 0, recursive: true, asRoot: true });
    expect(ok.status).toBe(200);
    expect(await sh(`stat -c '%U:%G' ${HOME}/own ${HOME}/own/sub/f`)).toBe('root:root\nroot:root\n');
    await fs.with({ asRoot: true }).chown(`${HOME}/own/sub/f`, 1000, 'user');
    expect(await sh(`stat -c '%U:%G' ${HOME}/own/sub/f`)).toBe('user:user\n');
    expectFsError(await call('POST', 'chown', {}, { path: `${HOME}/own`, workingDir: '/', uid: 'nobody-here', asRoot: true }), 400, 'EINVAL');
  });

  it('watches a tree: create, write, chmod, rename and remove, in new subdirectories too', async () => {
    await sh(`mkdir -p ${HOME}/watched`);
    const events: FsWatchEvent[] = [];
    const errors: Error[] = [];
    const watcher = fs.watch(`${HOME}/watched`, { recursive: true, onError: (e) => errors.push(e) }, (e) => events.push(e));
    expect(await watcher.ready).toEqual([`${HOME}/watched`]);
    await sh(`cd ${HOME}/watched && mkdir sub && sleep 0.3 && echo data > sub/f && chmod 600 sub/f && mv sub/f sub/g && rm sub/g`);
    const seen = (event: string, path: string) => events.some((e) => e.event === event && e.path === path);
    for (let i = 0; i < 50 && !seen('remove', `${HOME}/watched/sub/g`); i++) await new Promise((r) => setTimeout(r, 100));
    await watcher.close();
    expect(seen('create', `${HOME}/watched/sub`)).toBe(true);
    expect(events.find((e) => e.path === `${HOME}/watched/sub`)?.isDir).toBe(true);
    expect(seen('create', `${HOME}/watched/sub/f`)).toBe(true);
    expect(seen('write', `${HOME}/watched/sub/f`)).toBe(true);
    expect(seen('chmod', `${HOME}/watched/sub/f`)).toBe(true);
    expect(seen('rename', `${HOME}/watched/sub/f`)).toBe(true);
    expect(seen('create', `${HOME}/watched/sub/g`)).toBe(true);
    expect(seen('remove', `${HOME}/watched/sub/g`)).toBe(true);
    expect(events[0]).toMatchObject({ type: 'event', timestamp: expect.stringMatching(/Z$/), size: expect.any(Number) });
    expect(errors).toEqual([]);
  });

  it('watch: a path that does not exist is an error message, not a dead socket', async () => {
    const errors: Error[] = [];
    const watcher = fs.watch([`${HOME}/no-such-dir`, HOME], { onError: (e) => errors.push(e) }, () => {});
    expect(await watcher.ready).toEqual([HOME]);
    await watcher.close();
    expect(errors.map((e) => e.message).join()).toMatch(/no-such-dir/);
  });

  it('answers 404 with the path for whatever is missing, and the flat API error for a missing sandbox', async () => {
    expectFsError(await call('GET', 'read', { path: '/no/such/file' }), 404, 'ENOENT', '/no/such/file');
    expectFsError(await call('GET', 'list', { path: '/no/such/dir' }), 404, 'ENOENT', '/no/such/dir');
    await expect(fs.readFile('/no/such/file')).rejects.toMatchObject({ name: 'FsError', code: 'ENOENT', status: 404, path: '/no/such/file' });
    const missing = await fetch(`${burrow.url}/v1/sprites/${sandboxName('none')}/fs/read?path=/etc/hostname`, {
      headers: { Authorization: `Bearer ${burrow.token}` },
    });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: 'sandbox_not_found', message: expect.any(String) });
  });
});

describe('paths resolve inside the sandbox, never on the host', () => {
  it('reads through a symlink to /etc/shadow give the sandbox’s shadow, and only to root', async () => {
    await sh(`ln -sfn /etc/shadow ${HOME}/shadow`);
    expectFsError(await call('GET', 'read', { path: `${HOME}/shadow` }), 403, 'EACCES', `${HOME}/shadow`);
    const shadow = await call('GET', 'read', { path: `${HOME}/shadow`, asRoot: 'true' });
    expect(shadow.status).toBe(200);
    expect(shadow.bytes).toEqual(await insideView('/etc/shadow', true));
    expect(shadow.bytes.toString()).toMatch(/^user:/m);
    expect(shadow.bytes.equals(readFileSync('/etc/shadow'))).toBe(false);
  });

  it('never reaches a host file, by absolute path, symlink, `..` chains, a link to / or /proc', async () => {
    await sh(
      [
        `ln -sfn ${MARKER} ${HOME}/to-marker`,
        `ln -sfn / ${HOME}/to-root`,
        `ln -sfn ../../../../../../.. ${HOME}/up`,
        `ln -sfn ${burrow.home}/admin.token ${HOME}/to-token`,
      ].join(' && '),
    );
    const attempts = [
      MARKER,
      `${HOME}/../../../../../../..${MARKER}`,
      `${HOME}/to-marker`,
      `${HOME}/to-root/../../..${MARKER}`,
      `${HOME}/to-root${MARKER}`,
      `${HOME}/up${MARKER}`,
      `${HOME}/up/../../..${MARKER}`,
      `/proc/self/root${MARKER}`,
      `/proc/1/root/../../..${MARKER}`,
      `${burrow.home}/admin.token`,
      `${HOME}/to-token`,
      `${HOME}/up${burrow.home}/admin.token`,
    ];
    const token = burrow.token;
    for (const path of attempts) {
      for (const asRoot of [false, true]) {
        const r = await call('GET', 'read', { path, ...(asRoot ? { asRoot: 'true' } : {}) });
        const text = r.bytes.toString();
        expect(text, path).not.toContain(MARKER_TEXT.trim());
        expect(text, path).not.toContain(token);
        // Whatever the answer, it is the one a process inside the sandbox gets for that path.
        const inside = await insideView(path, asRoot);
        if (inside) expect(r.bytes, path).toEqual(inside);
        else expect(r.status, path).toBeGreaterThanOrEqual(400);
      }
    }
    // Relative paths with workingDir climb no further than the sandbox's root either.
    const climbed = await call('GET', 'read', { path: `../../../../../../../..${MARKER}`, workingDir: HOME });
    expectFsError(climbed, 404, 'ENOENT');
  });

  it('writes through the same paths land in the sandbox; the host files stay untouched', async () => {
    const root = { asRoot: 'true' };
    for (const path of [MARKER, `${HOME}/to-marker`, `${HOME}/up${MARKER}`, `${HOME}/to-token`, `/proc/self/root${MARKER}`]) {
      const r = await call('PUT', 'write', { path, mkdirParents: 'true', ...root }, 'overwritten by the sandbox');
      expect(r.status, path).toBeLessThan(500);
    }
    await call('DELETE', 'delete', { path: `${HOME}/up${MARKER}`, ...root });
    expect(readFileSync(MARKER, 'utf8')).toBe(MARKER_TEXT);
    expect(readFileSync(join(burrow.home, 'admin.token'), 'utf8').trim()).toBe(burrow.token);
    // The sandbox has its own file at the marker's path now, and only the sandbox sees it.
    expect(await insideView(MARKER, true)).toEqual(null); // removed just above, through the `up` link
    expect((await call('PUT', 'write', { path: MARKER, ...root }, 'mine')).status).toBe(200);
    expect((await insideView(MARKER, false))?.toString()).toBe('mine');
    expect(readFileSync(MARKER, 'utf8')).toBe(MARKER_TEXT);
    await call('DELETE', 'delete', { path: MARKER, ...root });
  });

  it('a symlink flipped between a harmless file and other targets while reads hammer it: every answer is the sandbox’s', async () => {
    await sh(`mkdir -p ${HOME}/race && echo harmless > ${HOME}/race/harmless && ln -sfn harmless ${HOME}/race/link`);
    // Flips as fast as the sandbox can: to its /etc/hostname, to the host marker's path (absent
    // in the sandbox) and back, with rename(2) so the link is always there, and with ln -sfn.
    const flipper = sandbox.spawn('bash', [
      '-c',
      `cd ${HOME}/race && while :; do ln -sfn /etc/hostname t && mv -T t link; ln -sfn ${MARKER} link; ln -sfn harmless t && mv -T t link; done`,
    ]);
    flipper.stdout.resume();
    flipper.stderr.resume();
    const allowed = new Set(['harmless\n', `${name}\n`]);
    const seen = new Map<string, number>();
    try {
      const reader = async () => {
        for (let i = 0; i < 12; i++) {
          const r = await call('GET', 'read', { path: `${HOME}/race/link`, ...(i % 2 ? { asRoot: 'true' } : {}) });
          const answer = r.status === 200 ? r.bytes.toString() : `${r.status} ${String(r.json?.code)}`;
          seen.set(answer, (seen.get(answer) ?? 0) + 1);
          expect(answer).not.toContain(MARKER_TEXT.trim());
          if (r.status === 200) expect(allowed.has(answer), answer).toBe(true);
          else expect(answer).toBe('404 ENOENT');
        }
      };
      await Promise.all([reader(), reader(), reader()]);
      // Writes race too: whichever target they hit, it is inside the sandbox.
      for (let i = 0; i < 6; i++) await call('PUT', 'write', { path: `${HOME}/race/link`, asRoot: 'true' }, 'raced write\n');
    } finally {
      flipper.kill('SIGKILL');
      await flipper.wait().catch(() => {});
    }
    expect(readFileSync(MARKER, 'utf8')).toBe(MARKER_TEXT);
    expect([...seen.keys()].some((k) => allowed.has(k))).toBe(true);
    expect(seen.size, JSON.stringify([...seen])).toBeGreaterThanOrEqual(2); // the race was really run
  });

  it('refuses NUL bytes with 400 EINVAL on every endpoint, before anything runs', async () => {
    const bad = `${HOME}/x\0/../../etc/passwd`;
    for (const [method, op, query, body] of [
      ['GET', 'read', { path: bad }, undefined],
      ['PUT', 'write', { path: bad }, 'x'],
      ['GET', 'list', { path: bad }, undefined],
      ['GET', 'list', { path: HOME, pattern: '*\0' }, undefined],
      ['DELETE', 'delete', { path: bad }, undefined],
      ['GET', 'read', { path: 'x', workingDir: `${HOME}\0` }, undefined],
      ['POST', 'rename', {}, { source: bad, dest: `${HOME}/y`, workingDir: '/' }],
      ['POST', 'rename', {}, { source: `${HOME}/y`, dest: bad, workingDir: '/' }],
      ['POST', 'copy', {}, { source: bad, dest: `${HOME}/y`, workingDir: '/' }],
      ['POST', 'chmod', {}, { path: bad, mode: '0644', workingDir: '/' }],
      ['POST', 'chown', {}, { path: bad, uid: 0, workingDir: '/' }],
    ] as const) {
      const r = await call(method, op, query, body);
      expectFsError(r, 400, 'EINVAL');
      expect(String(r.json.error)).toMatch(/NUL/);
    }
  });

  it('refuses paths longer than PATH_MAX, or with a name longer than NAME_MAX, with 400 ENAMETOOLONG', async () => {
    expectFsError(await call('GET', 'read', { path: `${HOME}/${'d/'.repeat(2100)}f` }), 400, 'ENAMETOOLONG');
    expectFsError(await call('PUT', 'write', { path: `${HOME}/${'n'.repeat(300)}` }, 'x'), 400, 'ENAMETOOLONG');
    expectFsError(await call('POST', 'rename', {}, { source: `${HOME}/a`, dest: `/${'x'.repeat(5000)}`, workingDir: '/' }), 400, 'ENAMETOOLONG');
  });

  it('refuses writes to read-only places with 403 and the errno name', async () => {
    expectFsError(await call('PUT', 'write', { path: '/proc/version' }, 'x'), 403, 'EACCES', '/proc/version');
    expectFsError(await call('PUT', 'write', { path: '/proc/version', asRoot: 'true' }, 'x'), 403, 'EPERM', '/proc/version');
    expectFsError(await call('PUT', 'write', { path: '/proc/burrow-new', asRoot: 'true' }, 'x'), 403, 'EPERM');
    // A root-owned directory, as the sandbox user.
    expectFsError(await call('PUT', 'write', { path: '/etc/burrow-user-file' }, 'x'), 403, 'EACCES', '/etc/burrow-user-file');
    expectFsError(await call('DELETE', 'delete', { path: '/etc/hosts' }), 403, 'EACCES');
    // /etc/hostname is a read-only mount: EROFS travels as EACCES, which Sprites clients know.
    const rofs = await call('PUT', 'write', { path: '/etc/hostname', asRoot: 'true' }, 'x');
    expectFsError(rofs, 403, 'EACCES', '/etc/hostname');
    expect(String(rofs.json.error)).toMatch(/EROFS|Read-only/);
    await expect(fs.writeFile('/etc/nope', 'x')).rejects.toMatchObject({ code: 'EACCES', status: 403, path: '/etc/nope' });
  });
});

describe('1 GiB through the fs API in bounded daemon memory', () => {
  const BLOCK = 1 << 20;
  const BLOCKS = 1024;
  const seed = randomBytes(BLOCK);
  let expectedHash = '';

  /** 1 GiB of blocks that all differ (index in the first bytes), so lost or swapped ones show. */
  function* blocks(): Generator<Buffer> {
    for (let i = 0; i < BLOCKS; i++) {
      const block = Buffer.from(seed);
      block.writeUInt32BE(i, 0);
      yield block;
    }
  }

  it('uploads 1 GiB streamed from the client', async () => {
    const hash = createHash('sha256');
    const body = Readable.from(
      (function* () {
        for (const block of blocks()) {
          hash.update(block);
          yield block;
        }
      })(),
    );
    const { peak } = await peakRss(burrow.pid, () => fs.writeFile(`${HOME}/gig`, body));
    expectedHash = hash.digest('hex');
    expect((await sh(`stat -c %s ${HOME}/gig; sha256sum ${HOME}/gig | cut -d' ' -f1`)).split('\n')).toEqual([String(BLOCK * BLOCKS), expectedHash, '']);
    expect(peak).toBeLessThan(400 * 2 ** 20);
  });

  it('reads 1 GiB back streamed to the client', async () => {
    const hash = createHash('sha256');
    const { result: bytes, peak } = await peakRss(burrow.pid, async () => {
      let total = 0;
      for await (const chunk of fs.readStream(`${HOME}/gig`)) {
        hash.update(chunk as Buffer);
        total += (chunk as Buffer).length;
      }
      return total;
    });
    expect(bytes).toBe(BLOCK * BLOCKS);
    expect(hash.digest('hex')).toBe(expectedHash);
    expect(peak).toBeLessThan(400 * 2 ** 20);
    await fs.rm(`${HOME}/gig`);
  });
});

describe('burrow cp and burrow exec --file', () => {
  let local: string;
  beforeAll(async () => {
    local = await mkdtemp(join(tmpdir(), `burrow-cp-${RUN_ID}-`));
  });
  afterAll(async () => {
    await rm(local, { recursive: true, force: true });
  });

  const burrowCli = (...args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...burrow.cliEnv() } }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });

  it('copies a file up and down', async () => {
    await writeFile(join(local, 'note.txt'), 'from the host\n');
    expect((await burrowCli('cp', join(local, 'note.txt'), `${name}:/home/user/note.txt`)).code).toBe(0);
    expect(await sh('cat ~/note.txt')).toBe('from the host\n');
    await sh('echo from the sandbox > ~/back.txt');
    expect((await burrowCli('cp', `${name}:back.txt`, join(local, 'back.txt'))).code).toBe(0);
    expect(await readFile(join(local, 'back.txt'), 'utf8')).toBe('from the sandbox\n');
    // Into an existing directory, as cp does.
    await mkdir(join(local, 'into'));
    expect((await burrowCli('cp', `${name}:/etc/hostname`, join(local, 'into'))).code).toBe(0);
    expect(await readFile(join(local, 'into', 'hostname'), 'utf8')).toBe(`${name}\n`);
  });

  it('copies a directory tree up and down (tar through exec), symlinks and modes included', async () => {
    const tree = join(local, 'tree');
    await mkdir(join(tree, 'a', 'b'), { recursive: true });
    await writeFile(join(tree, 'a', 'b', 'deep.txt'), 'deep\n', { mode: 0o600 });
    await writeFile(join(tree, 'top.bin'), randomBytes(200_000));
    await symlink('a/b/deep.txt', join(tree, 'link'));
    const up = await burrowCli('cp', tree, `${name}:/home/user/tree`);
    expect(up.code, up.stderr).toBe(0);
    expect(await sh('cd ~/tree && find . | sort && stat -c %a a/b/deep.txt && readlink link')).toBe(
      '.\n./a\n./a/b\n./a/b/deep.txt\n./link\n./top.bin\n600\na/b/deep.txt\n',
    );
    const down = await burrowCli('cp', `${name}:/home/user/tree`, join(local, 'tree-back'));
    expect(down.code, down.stderr).toBe(0);
    expect(await readFile(join(local, 'tree-back', 'top.bin'))).toEqual(await readFile(join(tree, 'top.bin')));
    expect(await readlink(join(local, 'tree-back', 'link'))).toBe('a/b/deep.txt');
  });

  it('reports sandbox-side failures with the errno text and exit code 1', async () => {
    const missing = await burrowCli('cp', `${name}:/no/such/file`, join(local, 'x'));
    expect(missing).toMatchObject({ code: 1, stderr: expect.stringMatching(/No such file or directory/) });
    const denied = await burrowCli('cp', `${name}:/etc/shadow`, join(local, 'shadow'));
    expect(denied).toMatchObject({ code: 1, stderr: expect.stringMatching(/Permission denied/) });
    expect(await readdir(local)).not.toContain('shadow'); // no empty file left behind
  });

  it('never writes outside the local destination, whatever the sandbox’s tar sends', async () => {
    // The sandbox is untrusted: here its `tar` is replaced by one that sends names with `..`
    // and a file below a symlink that points out of the destination.
    const outside = join(local, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'victim'), 'untouched');
    await sh(
      [
        'mkdir -p /tmp/evil/payload && cd /tmp/evil && echo PWNED > payload/victim',
        `ln -sfn ${outside} escape`,
        'tar -cf /tmp/evil.tar escape',
        "tar -rf /tmp/evil.tar --transform 's,^payload,escape,' payload/victim",
        "tar -rf /tmp/evil.tar -P --transform 's,^payload,../outside,' payload/victim",
        'printf "#!/bin/sh\\ncat /tmp/evil.tar\\n" | sudo tee /usr/local/bin/tar >/dev/null && sudo chmod 755 /usr/local/bin/tar',
      ].join(' && '),
    );
    try {
      const r = await burrowCli('cp', `${name}:/home/user/tree`, join(local, 'evil-dest'));
      expect(r.stderr).toMatch(/skipped/);
      expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('untouched');
    } finally {
      await sh('sudo rm -f /usr/local/bin/tar');
    }
  });

  it('exec --file uploads before the command runs, relative to --dir', async () => {
    await writeFile(join(local, 'script.sh'), 'echo "ran in $(pwd) with $(cat input.txt)"\n');
    await writeFile(join(local, 'input.txt'), 'the input');
    await sh('mkdir -p ~/work');
    const r = await burrowCli(
      'exec',
      '--file',
      `${join(local, 'script.sh')}:script.sh`,
      '--file',
      `${join(local, 'input.txt')}:/home/user/work/input.txt`,
      '--dir',
      '/home/user/work',
      name,
      '--',
      'bash',
      'script.sh',
    );
    expect(r).toEqual({ code: 0, stdout: 'ran in /home/user/work with the input\n', stderr: '' });
  });
});
