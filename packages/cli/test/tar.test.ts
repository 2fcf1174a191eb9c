/**
 * The tar that `burrow cp` moves directories with: what `pack` writes GNU tar reads, what GNU tar
 * writes `extract` reads, and a hostile archive (as a sandbox with its own `tar` could send)
 * never writes outside the destination.
 */
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { chmod, link, lstat, mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extract, pack } from '../src/tar.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'burrow-tar-test-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const tar = (args: string[], cwd = dir) => execFileSync('tar', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

async function tree(root: string) {
  const out = execFileSync('find', ['.', '-printf', '%p %y %m %s %l\\n'], { cwd: root, encoding: 'utf8' });
  // Directory sizes depend on the filesystem, not on what was copied.
  return out
    .split('\n')
    .filter(Boolean)
    .map((l) => l.replace(/^(\S+ d \d+) \d+/, '$1'))
    .sort();
}

async function makeSource(): Promise<string> {
  const src = join(dir, 'src');
  const long = 'n'.repeat(120);
  await mkdir(join(src, 'a', 'b'), { recursive: true });
  await mkdir(join(src, long, long), { recursive: true });
  await mkdir(join(src, 'empty'));
  await writeFile(join(src, 'a', 'b', 'c.txt'), 'hello\n');
  await writeFile(join(src, long, long, `${long}.txt`), 'deep\n');
  await writeFile(join(src, 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 17, 0xab));
  await writeFile(join(src, 'empty.txt'), '');
  await symlink('a/b/c.txt', join(src, 'link'));
  await symlink('/etc/passwd', join(src, 'abs'));
  await chmod(join(src, 'a'), 0o750);
  await chmod(join(src, 'a', 'b', 'c.txt'), 0o600);
  return src;
}

describe('pack', () => {
  it('writes an archive GNU tar extracts to the same tree (long names, symlinks, modes)', async () => {
    const src = await makeSource();
    const archive = join(dir, 'out.tar');
    const { createWriteStream } = await import('node:fs');
    const { pipeline } = await import('node:stream/promises');
    await pipeline(Readable.from(pack(src)), createWriteStream(archive));
    await mkdir(join(dir, 'gnu'));
    tar(['-x', '-f', archive, '-C', join(dir, 'gnu')]);
    expect(await tree(join(dir, 'gnu'))).toEqual(await tree(src));
  });
});

describe('extract', () => {
  it('reads what GNU tar writes in pax format, into the same tree', async () => {
    const src = await makeSource();
    tar(['-c', '-f', join(dir, 'gnu.tar'), '--format=pax', '-C', src, '.']);
    await mkdir(join(dir, 'out'));
    const result = await extract(createReadStream(join(dir, 'gnu.tar')), join(dir, 'out'));
    expect(await tree(join(dir, 'out'))).toEqual(await tree(src));
    expect(result).toMatchObject({ files: 4, symlinks: 2, skipped: [] });
  });

  it('round-trips through pack alone, in small chunks', async () => {
    const src = await makeSource();
    const chunks: Buffer[] = [];
    for await (const chunk of pack(src)) chunks.push(chunk);
    const all = Buffer.concat(chunks);
    const dribble = (async function* () {
      for (let at = 0; at < all.length; at += 333) yield all.subarray(at, at + 333);
    })();
    await mkdir(join(dir, 'out'));
    await extract(dribble, join(dir, 'out'));
    expect(await tree(join(dir, 'out'))).toEqual(await tree(src));
  });

  it('never writes outside the destination: `..`, absolute names, entries below a symlink, hard links', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'victim'), 'untouched');
    const work = join(dir, 'work');
    await mkdir(join(work, 'payload'), { recursive: true });
    await writeFile(join(work, 'payload', 'victim'), 'PWNED');
    // 1: a symlink to the outside, then a file "below" it; 2: `..` names; 3: an absolute name;
    // 4: a hard link to a file outside; 5: a set-uid file.
    await symlink(outside, join(work, 'escape'));
    const archive = join(dir, 'evil.tar');
    tar(['-c', '-f', archive, '-C', work, 'escape']);
    tar(['-r', '-f', archive, '-C', work, '--transform', 's,^payload,escape,', 'payload/victim']);
    tar(['-r', '-f', archive, '-C', work, '-P', '--transform', 's,^payload/victim,../outside/victim,', 'payload/victim']);
    tar(['-r', '-f', archive, '-C', work, '-P', '--transform', `s,^payload/victim,${join(outside, 'victim')},`, 'payload/victim']);
    await writeFile(join(work, 'suid'), '#!/bin/sh\n');
    await chmod(join(work, 'suid'), 0o4755);
    await link(join(work, 'suid'), join(work, 'suid-hard'));
    tar(['-r', '-f', archive, '-C', work, 'suid', 'suid-hard']);

    const dest = join(dir, 'dest');
    await mkdir(dest);
    const result = await extract(createReadStream(archive), dest);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('untouched');
    expect(await readlink(join(dest, 'escape'))).toBe(outside); // the link itself is harmless
    expect(result.skipped.join('\n')).toMatch(/escape\/victim \(it lies below the symlink/);
    expect(result.skipped.join('\n')).toMatch(/\.\.\/outside\/victim \(it climbs out/);
    // The absolute name lands inside the destination, like GNU tar strips the leading /.
    expect(await readFile(join(dest, outside, 'victim'), 'utf8')).toBe('PWNED');
    expect((await stat(join(dest, 'suid'))).mode & 0o7777).toBe(0o755);
    expect((await lstat(join(dest, 'escape'))).isSymbolicLink()).toBe(true);
    expect(result.skipped.join('\n')).toMatch(/suid-hard \(a hard link\)/);
  });

  it('sets no time or mode outside the destination: a directory entry over a planted symlink', async () => {
    const outside = join(dir, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'victim'), 'untouched');
    const before = { dir: await stat(outside), file: await stat(join(outside, 'victim')) };
    const links = join(dir, 'links');
    const dirs = join(dir, 'dirs');
    await mkdir(links);
    await mkdir(join(dirs, 'd'), { recursive: true });
    await writeFile(join(dirs, 'f'), 'mine');
    // First `d` and `f` as links to the outside, then a directory `d` and a file `f` from 2001:
    // their times (and the directory's mode) must land on the new entries, not through the links.
    await symlink(outside, join(links, 'd'));
    await symlink(join(outside, 'victim'), join(links, 'f'));
    await chmod(join(dirs, 'd'), 0o700);
    const old = '2001-09-09T01:46:40Z';
    tar(['-c', '-f', join(dir, 'evil.tar'), '-C', links, 'd', 'f']);
    tar(['-r', '-f', join(dir, 'evil.tar'), '-C', dirs, `--mtime=${old}`, 'd', 'f']);

    const dest = join(dir, 'dest');
    await mkdir(dest);
    await extract(createReadStream(join(dir, 'evil.tar')), dest);
    const after = { dir: await stat(outside), file: await stat(join(outside, 'victim')) };
    expect(after.dir.mtimeMs).toBe(before.dir.mtimeMs);
    expect(after.dir.mode).toBe(before.dir.mode);
    expect(after.file.mtimeMs).toBe(before.file.mtimeMs);
    expect(await readFile(join(outside, 'victim'), 'utf8')).toBe('untouched');
    const d = await lstat(join(dest, 'd'));
    expect(d.isDirectory()).toBe(true);
    expect(d.mtime.toISOString()).toBe('2001-09-09T01:46:40.000Z');
    expect(await readFile(join(dest, 'f'), 'utf8')).toBe('mine');
    expect((await lstat(join(dest, 'f'))).mtime.toISOString()).toBe('2001-09-09T01:46:40.000Z');
  });

  it('fails loudly on a damaged or truncated archive', async () => {
    const src = await makeSource();
    const chunks: Buffer[] = [];
    for await (const chunk of pack(src)) chunks.push(chunk);
    const all = Buffer.concat(chunks);
    await mkdir(join(dir, 'a'));
    await expect(extract(Readable.from([all.subarray(0, 4000)]), join(dir, 'a'))).rejects.toThrow(/ended in the middle/);
    const damaged = Buffer.from(all);
    damaged[10] = damaged[10]! ^ 0xff;
    await mkdir(join(dir, 'b'));
    await expect(extract(Readable.from([damaged]), join(dir, 'b'))).rejects.toThrow(/checksum/);
  });
});
