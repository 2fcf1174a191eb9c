// The fs core and its in-sandbox tool, without a sandbox: a fake manager runs the tool as a host
// process inside a temporary directory, so the protocol (status lines, streaming, errno mapping,
// aborted uploads) is checked in milliseconds. The real isolation is test/integration/fs.test.ts.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpStatusOf } from '../src/api/errors.js';
import { FsError, SandboxFs, sandboxPath, type SandboxExec } from '../src/core/sandbox-fs.js';
import type { SandboxProcessHandle } from '../src/runtime/agent.js';

let dir: string;
const started: string[][] = [];

/** Runs the command on the host, as the manager would in a sandbox; records argv. */
const hostExec: SandboxExec = {
  async exec(_name, opts) {
    started.push(opts.args);
    const [file, ...args] = opts.args;
    const child = spawn(file!, args, { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'], env: { ...opts.env, PATH: process.env.PATH } });
    const handle: SandboxProcessHandle = {
      token: 'fake',
      child,
      signal: async (signal: NodeJS.Signals) => void child.kill(signal),
      resize: async () => {},
    } as unknown as SandboxProcessHandle;
    return handle;
  },
};
const fs = new SandboxFs(hostExec);
const as = { asRoot: false };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'burrow-fs-unit-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function text(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString();
}

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

describe('sandboxPath', () => {
  it('joins relative paths to the working directory and leaves `..` to the sandbox', () => {
    expect(sandboxPath('x/y', '/home/user')).toBe('/home/user/x/y');
    expect(sandboxPath('/etc//passwd', '/home/user')).toBe('/etc/passwd');
    expect(sandboxPath('../../etc/./x', '/home/user')).toBe('/home/user/../../etc/x');
    expect(sandboxPath('x', 'tmp')).toBe('/tmp/x');
    expect(sandboxPath('x')).toBe('/x');
  });

  it('refuses NUL bytes, empty paths and paths longer than PATH_MAX or NAME_MAX', () => {
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as FsError).code, httpStatusOf(e as FsError)];
      }
      return null;
    };
    expect(code(() => sandboxPath('/etc/passwd\0x'))).toEqual(['EINVAL', 400]);
    expect(code(() => sandboxPath('x', '/tmp\0'))).toEqual(['EINVAL', 400]);
    expect(code(() => sandboxPath(''))).toEqual(['EINVAL', 400]);
    expect(code(() => sandboxPath(`/${'a/'.repeat(2100)}`))).toEqual(['ENAMETOOLONG', 400]);
    expect(code(() => sandboxPath(`/tmp/${'a'.repeat(256)}`))).toEqual(['ENAMETOOLONG', 400]);
  });
});

describe('SandboxFs (tool run on the host)', () => {
  it('passes user data only as argv elements after a fixed program', async () => {
    started.length = 0;
    await fs.list('box', join(dir), { ...as, recursive: false });
    const argv = started[0]!;
    expect(argv.slice(0, 4)).toEqual(['python3', '-I', '-S', '-c']);
    expect(argv[4]).toContain('def op_read');
    expect(argv.slice(5)).toEqual(['list', dir, '0', '']);
  });

  it('writes, reads back and lists a file as its own single entry', async () => {
    const path = join(dir, 'a', 'b.txt');
    const { bytes } = await fs.write('box', path, Readable.from([Buffer.from('hello '), Buffer.from('world')]), {
      ...as,
      mode: '0600',
      mkdir: 'parents',
    });
    expect(bytes).toBe(11);
    expect(await text(await fs.read('box', path, as))).toBe('hello world');
    expect(((await stat(path)).mode & 0o777).toString(8)).toBe('600');
    const listing = await fs.list('box', path, { ...as, recursive: false });
    expect(listing.self).toMatchObject({ name: 'b.txt', path, type: 'file', size: 11, mode: '0600', isDir: false });
    expect(await collect(listing.entries)).toEqual([listing.self]);
  });

  it('creates the immediate parent without mkdirParents, but not deeper ones', async () => {
    await fs.write('box', join(dir, 'p1', 'f'), Readable.from([]), { ...as, mkdir: 'parent' });
    await expect(fs.write('box', join(dir, 'p2', 'q', 'f'), Readable.from([]), { ...as, mkdir: 'parent' })).rejects.toMatchObject({
      code: 'ENOENT',
      path: join(dir, 'p2', 'q', 'f'),
    });
  });

  it('lists recursively, depth first in name order, with a glob', async () => {
    await writeFile(join(dir, 'a', 'c.md'), 'x');
    await symlink('/etc', join(dir, 'a', 'link'));
    const listing = await fs.list('box', join(dir, 'a'), { ...as, recursive: true });
    expect((await collect(listing.entries)).map((e) => [e.name, e.type])).toEqual([
      ['b.txt', 'file'],
      ['c.md', 'file'],
      ['link', 'symlink'],
    ]);
    const md = await fs.list('box', dir, { ...as, recursive: true, pattern: '*.md' });
    expect((await collect(md.entries)).map((e) => e.path)).toEqual([join(dir, 'a', 'c.md')]);
  });

  it('maps errno to the fs error shape before any byte is sent', async () => {
    const missing = join(dir, 'nope');
    await expect(fs.read('box', missing, as)).rejects.toMatchObject({ code: 'ENOENT', path: missing });
    await expect(fs.read('box', dir, as)).rejects.toMatchObject({ code: 'EISDIR' });
    await expect(fs.delete('box', join(dir, 'a'), { ...as, recursive: false })).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    await expect(fs.list('box', join(dir, 'a', 'b.txt', 'x'), { ...as, recursive: false })).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(fs.chown('box', dir, { uid: 'no-such-user-here' }, { ...as, recursive: false })).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('renames, copies trees (not into themselves), chmods and deletes', async () => {
    await fs.copy('box', join(dir, 'a'), join(dir, 'copy'), { ...as, recursive: true, preserveAttrs: true });
    expect(await readFile(join(dir, 'copy', 'b.txt'), 'utf8')).toBe('hello world');
    await expect(fs.copy('box', join(dir, 'a'), join(dir, 'a', 'inner'), { ...as, recursive: true, preserveAttrs: false })).rejects.toMatchObject({
      code: 'EINVAL',
    });
    await expect(fs.copy('box', join(dir, 'a'), join(dir, 'x'), { ...as, recursive: false, preserveAttrs: false })).rejects.toMatchObject({
      code: 'EISDIR',
    });
    await fs.rename('box', join(dir, 'copy'), join(dir, 'moved'), as);
    await fs.chmod('box', join(dir, 'moved'), '0700', { ...as, recursive: true });
    expect(((await stat(join(dir, 'moved', 'c.md'))).mode & 0o777).toString(8)).toBe('700');
    await fs.delete('box', join(dir, 'moved'), { ...as, recursive: true });
    await expect(stat(join(dir, 'moved'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('makes a directory with its parents, and reports one that exists as EEXIST', async () => {
    await fs.mkdir('box', join(dir, 'made', 'deep', 'er'), as);
    expect((await stat(join(dir, 'made', 'deep', 'er'))).isDirectory()).toBe(true);
    await expect(fs.mkdir('box', join(dir, 'made', 'deep'), as)).rejects.toMatchObject({ code: 'EEXIST' });
    await writeFile(join(dir, 'made', 'file'), 'x');
    await expect(fs.mkdir('box', join(dir, 'made', 'file', 'sub'), as)).rejects.toMatchObject({ code: 'ENOTDIR' });
  });

  it('kills the tool rather than commit an upload that stopped short', async () => {
    const path = join(dir, 'partial');
    const body = new PassThrough();
    const writing = fs.write('box', path, body, { ...as, mkdir: 'parent' });
    body.write('first half ');
    await new Promise((r) => setTimeout(r, 200));
    body.destroy(); // the client went away
    await expect(writing).rejects.toBeInstanceOf(FsError);
  });

  it('refuses an upload whose length does not match Content-Length', async () => {
    const path = join(dir, 'short');
    await expect(fs.write('box', path, Readable.from([Buffer.from('abc')]), { ...as, mkdir: 'parent', expectedBytes: 10 })).rejects.toMatchObject({
      code: 'EIO',
    });
  });

  it('streams a large file through in pieces', async () => {
    const path = join(dir, 'large');
    const piece = Buffer.alloc(1 << 20, 7);
    await fs.write('box', path, Readable.from((function* () {
      for (let i = 0; i < 32; i++) yield piece;
    })()), { ...as, mkdir: 'parent' });
    let total = 0;
    for await (const chunk of await fs.read('box', path, as)) total += (chunk as Buffer).length;
    expect(total).toBe(32 << 20);
  });

  it('reports a sandbox without python3 as a clear EIO', async () => {
    const broken = new SandboxFs({
      exec: (name, opts) => hostExec.exec(name, { ...opts, args: ['sh', '-c', 'echo "burrow: python3: command not found" >&2; exit 127'] }),
    });
    await expect(broken.read('box', '/x', as)).rejects.toMatchObject({ code: 'EIO', message: expect.stringMatching(/has no python3|python3/) });
  });

  it('reports watch events and paths that cannot be watched', async () => {
    const watched = join(dir, 'w');
    await fs.write('box', join(watched, 'keep'), Readable.from([]), { ...as, mkdir: 'parent' });
    const watch = await fs.watch('box', [watched, join(dir, 'missing')], { ...as, recursive: true });
    const iterator = watch.messages[Symbol.asyncIterator]();
    expect((await iterator.next()).value).toMatchObject({ type: 'error', message: expect.stringContaining('missing') });
    expect((await iterator.next()).value).toEqual({ type: 'subscribed', paths: [watched] });
    await writeFile(join(watched, 'new.txt'), 'data');
    expect((await iterator.next()).value).toMatchObject({ type: 'event', path: join(watched, 'new.txt'), event: 'create', isDir: false });
    await watch.close();
  });
});
