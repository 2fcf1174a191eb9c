/**
 * Just enough tar (POSIX ustar with pax headers) to move directory trees through `burrow exec`:
 * `pack` streams a local tree out, `extract` writes a stream from a sandbox into a local
 * directory. What comes out of a sandbox is untrusted: names that climb out (`..`, absolute),
 * entries below a symlink, hard links and device files are skipped, and modes lose their
 * set-id bits, so an archive can never write outside the destination.
 */
import { constants } from 'node:fs';
import { lstat, lutimes, mkdir, open, readdir, readlink, symlink, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';

const BLOCK = 512;
/** Reads of a file being packed: big enough to keep a pipe full, small enough to not matter. */
const READ_CHUNK = 1 << 20;

// ------------------------------------------------------------------------------------ pack --

interface Header {
  name: string;
  mode: number;
  size: number;
  mtime: number;
  type: '0' | '2' | '5';
  linkname?: string;
}

/**
 * The tree under `root` as a tar stream: directories, regular files and symlinks (never
 * followed), names relative to `root`. Other file types are reported through `warn` and left out.
 */
export async function* pack(
  root: string,
  options: { warn?: (message: string) => void; onFile?: (size: number) => void } = {},
): AsyncGenerator<Buffer> {
  const warn = options.warn ?? (() => {});
  const stack: string[] = [''];
  while (stack.length) {
    const relative = stack.pop()!;
    const names = (await readdir(join(root, relative))).sort().reverse();
    for (const name of names) {
      const rel = relative ? `${relative}/${name}` : name;
      const path = join(root, rel);
      const st = await lstat(path);
      const mtime = Math.floor(st.mtimeMs / 1000);
      const mode = st.mode & 0o7777;
      if (st.isDirectory()) {
        yield* headerBlocks({ name: `${rel}/`, mode, size: 0, mtime, type: '5' });
        stack.push(rel);
      } else if (st.isSymbolicLink()) {
        yield* headerBlocks({ name: rel, mode, size: 0, mtime, type: '2', linkname: await readlink(path) });
      } else if (st.isFile()) {
        yield* headerBlocks({ name: rel, mode, size: st.size, mtime, type: '0' });
        yield* fileBlocks(path, st.size, warn);
        options.onFile?.(st.size);
      } else {
        warn(`skipping ${path}: only files, directories and symlinks are copied`);
      }
    }
  }
  yield Buffer.alloc(2 * BLOCK);
}

/** Exactly `size` bytes of the file, padded to a block: a file that changes size meanwhile cannot break the archive. */
async function* fileBlocks(path: string, size: number, warn: (message: string) => void): AsyncGenerator<Buffer> {
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    let left = size;
    while (left > 0) {
      const { bytesRead, buffer } = await file.read(Buffer.alloc(Math.min(READ_CHUNK, left)), 0, Math.min(READ_CHUNK, left), null);
      if (bytesRead === 0) {
        warn(`${path} shrank while being copied; the copy is padded with zeros`);
        yield Buffer.alloc(left);
        break;
      }
      left -= bytesRead;
      yield buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
  if (size % BLOCK) yield Buffer.alloc(BLOCK - (size % BLOCK));
}

function* headerBlocks(h: Header): Generator<Buffer> {
  const pax: Record<string, string> = {};
  const name = splitName(h.name);
  if (!name) pax.path = h.name;
  if (h.linkname !== undefined && Buffer.byteLength(h.linkname) > 100) pax.linkpath = h.linkname;
  if (h.size > 0o77777777777) pax.size = String(h.size);
  if (Object.keys(pax).length) {
    const body = Buffer.from(Object.entries(pax).map(([k, v]) => paxRecord(k, v)).join(''));
    yield ustar({ name: 'PaxHeader', mode: 0o644, size: body.length, mtime: h.mtime, type: 'x' });
    yield body;
    if (body.length % BLOCK) yield Buffer.alloc(BLOCK - (body.length % BLOCK));
  }
  yield ustar({
    ...h,
    name: name?.name ?? h.name.slice(-100),
    prefix: name?.prefix ?? '',
    size: pax.size ? 0 : h.size,
    linkname: pax.linkpath ? '' : h.linkname,
  });
}

/** ustar keeps names up to 100 bytes, or 255 split at a `/` into prefix and name. */
function splitName(name: string): { name: string; prefix: string } | null {
  if (Buffer.byteLength(name) <= 100) return { name, prefix: '' };
  for (let at = name.indexOf('/'); at !== -1; at = name.indexOf('/', at + 1)) {
    const prefix = name.slice(0, at);
    const rest = name.slice(at + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100 && rest) return { name: rest, prefix };
  }
  return null;
}

function paxRecord(key: string, value: string): string {
  // The length counts its own digits.
  const body = ` ${key}=${value}\n`;
  const base = Buffer.byteLength(body);
  let length = base + String(base).length;
  if (String(length).length + base !== length) length = String(length).length + base;
  return `${length}${body}`;
}

function ustar(h: { name: string; prefix?: string; mode: number; size: number; mtime: number; type: string; linkname?: string | undefined }): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100, 'utf8');
  block.write(octal(h.mode, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(h.size, 12), 124, 'ascii');
  block.write(octal(h.mtime, 12), 136, 'ascii');
  block.write(h.type, 156, 'ascii');
  block.write(h.linkname ?? '', 157, 100, 'utf8');
  block.write('ustar\u000000', 257, 'ascii');
  block.write(h.prefix ?? '', 345, 155, 'utf8');
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 'ascii');
  return block;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\u0000`;
}

// --------------------------------------------------------------------------------- extract --

/** Reads exact byte counts out of a chunked stream. */
class ByteReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private readonly iterator: AsyncIterator<Buffer>;
  private done = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  /** Exactly n bytes, or fewer only at the end of the stream. */
  async read(n: number): Promise<Buffer> {
    while (this.buffered < n && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else {
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
    }
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
    return out;
  }

  /** Hands `n` bytes to `sink` as they arrive, without gathering them. */
  async stream(n: number, sink: (chunk: Buffer) => Promise<void>): Promise<void> {
    let left = n;
    while (left > 0) {
      if (this.buffered === 0) {
        const next = await this.iterator.next();
        if (next.done) throw new Error('the archive ended in the middle of a file');
        this.chunks.push(next.value);
        this.buffered += next.value.length;
      }
      const chunk = this.chunks.shift()!;
      const take = chunk.subarray(0, left);
      const rest = chunk.subarray(left);
      if (rest.length) this.chunks.unshift(rest);
      this.buffered -= take.length;
      left -= take.length;
      await sink(take);
    }
  }
}

export interface ExtractResult {
  files: number;
  directories: number;
  symlinks: number;
  bytes: number;
  skipped: string[];
}

/**
 * Writes the archive's entries under `dest` (which must exist). Nothing is ever written outside
 * it: see the module comment for what is refused.
 */
export async function extract(source: AsyncIterable<Buffer>, dest: string): Promise<ExtractResult> {
  const reader = new ByteReader(source);
  const result: ExtractResult = { files: 0, directories: 0, symlinks: 0, bytes: 0, skipped: [] };
  const dirTimes: Array<[string, number]> = [];
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const header = await reader.read(BLOCK);
    if (header.length < BLOCK) throw new Error('the archive ended in the middle of a header');
    if (header.every((b) => b === 0)) break;
    verifyChecksum(header);
    const type = String.fromCharCode(header[156] ?? 0x30);
    let size = parseNumber(header.subarray(124, 136));
    if (pax.size) size = Number(pax.size);
    const padded = Math.ceil(size / BLOCK) * BLOCK;

    if (type === 'x' || type === 'g' || type === 'L' || type === 'K') {
      const body = (await reader.read(padded)).subarray(0, size);
      if (type === 'x') pax = parsePax(body);
      if (type === 'L') longName = cString(body);
      if (type === 'K') longLink = cString(body);
      continue;
    }
    const prefix = cString(header.subarray(345, 500));
    const rawName = pax.path ?? longName ?? (prefix ? `${prefix}/${cString(header.subarray(0, 100))}` : cString(header.subarray(0, 100)));
    const linkname = pax.linkpath ?? longLink ?? cString(header.subarray(157, 257));
    const mode = parseNumber(header.subarray(100, 108)) & 0o777; // never set-id bits from a sandbox
    const mtime = pax.mtime ? Number(pax.mtime) : parseNumber(header.subarray(136, 148));
    pax = {};
    longName = undefined;
    longLink = undefined;

    const parts = rawName.split('/').filter((p) => p !== '' && p !== '.');
    const target = parts.length ? join(dest, ...parts) : dest;
    const refuse = parts.includes('..') ? 'it climbs out of the destination' : await symlinkAbove(dest, parts);
    const isData = type === '0' || type === '\0' || type === '7';
    if (refuse || !(isData || type === '5' || type === '2')) {
      result.skipped.push(`${rawName} (${refuse ?? (type === '1' ? 'a hard link' : `entry type '${type}'`)})`);
      await reader.stream(padded, async () => {});
      continue;
    }
    if (type === '5') {
      // A link the archive planted earlier under this name is replaced, never created through.
      await removeIfLink(target);
      await mkdir(target, { recursive: true, mode: mode | 0o700 });
      dirTimes.push([target, mtime]);
      result.directories++;
    } else if (type === '2') {
      if (!parts.length) continue;
      await mkdir(dirname(target), { recursive: true });
      await removeIfLink(target);
      await symlink(linkname, target);
      result.symlinks++;
    } else {
      if (!parts.length) {
        result.skipped.push(`${rawName} (a file in place of the destination directory)`);
        await reader.stream(padded, async () => {});
        continue;
      }
      await mkdir(dirname(target), { recursive: true });
      await removeIfLink(target);
      // O_NOFOLLOW: the last component is never followed, even if something raced a link in.
      const file = await open(target, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
      try {
        await reader.stream(size, async (chunk) => {
          await file.write(chunk);
        });
        await file.chmod(mode);
      } finally {
        await file.close();
      }
      await reader.stream(padded - size, async () => {});
      await lutimes(target, mtime, mtime).catch(() => {});
      result.files++;
      result.bytes += size;
    }
  }
  // Directory times last: writing into a directory changes its mtime. lutimes, like every
  // metadata call here, acts on the name itself: a link in its place is never followed.
  for (const [path, mtime] of dirTimes.reverse()) await lutimes(path, mtime, mtime).catch(() => {});
  return result;
}

/** Why an entry may not be written: a component between `dest` and it is a symlink. */
async function symlinkAbove(dest: string, parts: string[]): Promise<string | undefined> {
  let at = dest;
  for (const part of parts.slice(0, -1)) {
    at = `${at}${sep}${part}`;
    const st = await lstat(at).catch(() => null);
    if (st?.isSymbolicLink()) return `it lies below the symlink ${at}`;
    if (!st) return undefined;
  }
  return undefined;
}

async function removeIfLink(path: string): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (st?.isSymbolicLink()) await unlink(path);
}

function verifyChecksum(header: Buffer): void {
  const stored = parseNumber(header.subarray(148, 156));
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  if (sum !== stored) throw new Error('the archive is damaged (header checksum mismatch)');
}

/** Octal text, or GNU base-256 for big values (high bit of the first byte set). */
function parseNumber(field: Buffer): number {
  if (field.length && (field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = cString(field).trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(field: Buffer): string {
  const end = field.indexOf(0);
  return field.subarray(0, end === -1 ? field.length : end).toString('utf8');
}

function parsePax(body: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let at = 0;
  while (at < body.length) {
    const space = body.indexOf(0x20, at);
    if (space === -1) break;
    const length = Number(body.subarray(at, space).toString());
    if (!Number.isFinite(length) || length <= 0) break;
    const record = body.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}
