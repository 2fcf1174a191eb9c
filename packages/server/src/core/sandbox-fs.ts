// A sandbox's filesystem, operated from inside the sandbox (spec section 6). The daemon never
// opens a sandbox path itself: each operation runs sandbox-tools/fs.py in the sandbox through the
// manager, as the sandbox user or as root. So a symlink to /etc means the sandbox's /etc, `..`
// stops at the sandbox's root, and a link swapped between check and use can only ever point
// inside the sandbox. User data travels as argv elements and stdin only, never as program text
// or a shell string. Streams flow with backpressure end to end, so daemon memory stays bounded.
import { readFileSync } from 'node:fs';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import {
  fsErrorCodeFor,
  type FsEntry,
  type FsEntryType,
  type FsErrorCode,
  type FsWatchEventKind,
  type FsWatchMessage,
} from '@burrow/protocol';
import type { SandboxProcessHandle } from '../runtime/agent.js';
import type { ExecOptions } from './sandbox-manager.js';

/** Linux's PATH_MAX, terminating NUL included. */
export const PATH_MAX = 4096;
/** The longest name of one directory entry. */
export const NAME_MAX = 255;
/** Lines the tool prints (status, entries, watch messages) are small; a longer one is garbage. */
const MAX_LINE = 64 * 1024;
const MAX_STDERR = 64 * 1024;
/** Upload bytes gathered into one write to the sandbox while the previous write is in flight. */
const COALESCE = 1 << 20;

/** A filesystem failure as errno names it; its HTTP status is the API's business (api/errors.ts). */
export class FsError extends Error {
  constructor(
    readonly code: FsErrorCode,
    message: string,
    readonly path: string,
  ) {
    super(message);
    this.name = 'FsError';
  }
}

/** What the fs needs of the manager: running a command inside a sandbox. */
export interface SandboxExec {
  exec(name: string, opts: ExecOptions): Promise<SandboxProcessHandle>;
}

export interface AsUser {
  /** Run as root instead of the sandbox user (whose permissions apply by default). */
  asRoot: boolean;
}

/**
 * `path` resolved against `workingDir` (itself relative to `/`), without touching `..` or
 * symlinks: only the sandbox's kernel may resolve those. Repeated slashes and `/./` are
 * collapsed, which never changes what a path names.
 */
export function sandboxPath(path: string, workingDir = '/'): string {
  for (const [what, value] of [['path', path], ['workingDir', workingDir]] as const) {
    if (value.includes('\0')) throw new FsError('EINVAL', `${what} must not contain NUL bytes`, printable(path));
  }
  if (path === '') throw new FsError('EINVAL', 'path is empty', '');
  const base = workingDir.startsWith('/') ? workingDir : `/${workingDir}`;
  let joined = path.startsWith('/') ? path : `${base}/${path}`;
  joined = joined.replace(/\/+/g, '/');
  while (joined.includes('/./')) joined = joined.replace('/./', '/');
  if (Buffer.byteLength(joined) >= PATH_MAX) {
    throw new FsError('ENAMETOOLONG', `the path is ${Buffer.byteLength(joined)} bytes long; the limit is ${PATH_MAX - 1}`, joined.slice(0, 200));
  }
  const long = joined.split('/').find((part) => Buffer.byteLength(part) > NAME_MAX);
  if (long !== undefined) {
    throw new FsError('ENAMETOOLONG', `a path component is ${Buffer.byteLength(long)} bytes long; the limit is ${NAME_MAX}`, joined.slice(0, 200));
  }
  return joined;
}

function printable(path: string): string {
  return path.replace(/\0/g, '\\0').slice(0, 200);
}

export class SandboxFs {
  /** The tool's source, passed to `python3 -c` as one argv element. */
  private readonly program: string;

  constructor(
    private readonly sandboxes: SandboxExec,
    program = readFileSync(fileURLToPath(new URL('../../sandbox-tools/fs.py', import.meta.url)), 'utf8'),
  ) {
    this.program = program;
  }

  /** The file's bytes, streamed; rejects before any byte when the file cannot be opened. */
  async read(name: string, path: string, opts: AsUser): Promise<Readable> {
    const run = await this.start(name, opts, ['read', path]);
    run.noInput();
    await run.status;
    return run.output();
  }

  /**
   * Streams `body` into the file. The body is not touched until the file is open, so a refusal
   * costs no upload. A body that ends early (the client went away) kills the tool before its
   * stdin closes: a truncated upload is never taken for a complete one.
   */
  async write(
    name: string,
    path: string,
    body: Readable,
    opts: AsUser & { mode?: string; mkdir: 'parents' | 'parent'; expectedBytes?: number },
  ): Promise<{ bytes: number }> {
    const expected = opts.expectedBytes === undefined ? '-' : String(opts.expectedBytes);
    const run = await this.start(name, opts, ['write', path, opts.mode ?? '-', opts.mkdir, expected]);
    run.discardOutput();
    const stdin = run.handle.child.stdin;
    try {
      await run.status;
    } catch (e) {
      stdin.destroy();
      throw e;
    }
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    pumpCoalesced(body, stdin, () => void run.kill().finally(() => stdin.destroy()));
    await run.done;
    return { bytes };
  }

  /**
   * The path's own entry, then its entries (a file is its own single entry), streamed. Iterate
   * `entries` to the end, or call `close()`.
   */
  async list(
    name: string,
    path: string,
    opts: AsUser & { recursive: boolean; pattern?: string },
  ): Promise<{ self: FsEntry; entries: AsyncIterable<FsEntry>; close(): Promise<void> }> {
    const run = await this.start(name, opts, ['list', path, opts.recursive ? '1' : '0', opts.pattern ?? '']);
    run.noInput();
    const status = await run.status;
    const self = toEntry(status.self);
    if (!self) {
      await run.kill();
      throw new FsError('EIO', `the sandbox's fs tool described ${path} in a form burrow does not understand`, path);
    }
    async function* entries(): AsyncGenerator<FsEntry> {
      try {
        for await (const line of lines(run.handle.child.stdout)) {
          const entry = toEntry(parseJson(line));
          if (entry) yield entry;
        }
        await run.done;
      } finally {
        if (!run.exited) await run.kill();
      }
    }
    // close() is for a consumer that goes away without iterating (a generator that never
    // started runs no `finally`).
    return { self, entries: entries(), close: () => run.kill() };
  }

  /** Makes the directory and its missing parents; EEXIST when the path exists already. */
  async mkdir(name: string, path: string, opts: AsUser): Promise<void> {
    await this.simple(name, opts, ['mkdir', path]);
  }

  async delete(name: string, path: string, opts: AsUser & { recursive: boolean }): Promise<void> {
    await this.simple(name, opts, ['delete', path, opts.recursive ? '1' : '0']);
  }

  async rename(name: string, source: string, dest: string, opts: AsUser): Promise<void> {
    await this.simple(name, opts, ['rename', source, dest]);
  }

  async copy(name: string, source: string, dest: string, opts: AsUser & { recursive: boolean; preserveAttrs: boolean }): Promise<void> {
    await this.simple(name, opts, ['copy', source, dest, opts.recursive ? '1' : '0', opts.preserveAttrs ? '1' : '0']);
  }

  /** `mode` is an octal string such as `0755`. */
  async chmod(name: string, path: string, mode: string, opts: AsUser & { recursive: boolean }): Promise<void> {
    await this.simple(name, opts, ['chmod', path, mode, opts.recursive ? '1' : '0']);
  }

  /** `uid` and `gid` are numbers or names (looked up in the sandbox); undefined keeps the current one. */
  async chown(
    name: string,
    path: string,
    owner: { uid?: number | string; gid?: number | string },
    opts: AsUser & { recursive: boolean },
  ): Promise<void> {
    const id = (value: number | string | undefined) => (value === undefined ? '-' : String(value));
    await this.simple(name, opts, ['chown', path, id(owner.uid), id(owner.gid), opts.recursive ? '1' : '0']);
  }

  /**
   * Watches `paths` with inotify inside the sandbox. Messages arrive in the protocol's shape
   * (spec section 6, watch); a path that cannot be watched is an `error` message, not a failure.
   * Iteration pauses the tool when the consumer is slow; `close()` stops it.
   */
  async watch(
    name: string,
    paths: string[],
    opts: AsUser & { recursive: boolean },
  ): Promise<{ messages: AsyncIterable<FsWatchMessage>; close(): Promise<void> }> {
    const run = await this.start(name, opts, ['watch', opts.recursive ? '1' : '0', ...paths], paths[0]);
    run.noInput();
    async function* messages(): AsyncGenerator<FsWatchMessage> {
      try {
        for await (const line of lines(run.handle.child.stdout)) {
          const message = toWatchMessage(parseJson(line));
          if (message) yield message;
        }
        await run.done;
      } catch (e) {
        yield { type: 'error', message: (e as Error).message };
      } finally {
        if (!run.exited) await run.kill();
      }
    }
    return { messages: messages(), close: () => run.kill() };
  }

  private async simple(name: string, opts: AsUser, args: string[]): Promise<void> {
    const run = await this.start(name, opts, args);
    run.noInput();
    run.discardOutput();
    await run.status;
    await run.done;
  }

  /** `path` names the operation's subject in errors that the tool itself could not report. */
  private async start(name: string, opts: AsUser, args: string[], path = args[1] ?? ''): Promise<ToolRun> {
    // -I: no PYTHON* variables, no user site directory; -S: no site module (faster start). The
    // environment is replaced, so the sandbox's own settings cannot change how the tool runs.
    const handle = await this.sandboxes.exec(name, {
      args: ['python3', '-I', '-S', '-c', this.program, ...args],
      env: { LANG: 'C.UTF-8' },
      cwd: '/',
      asRoot: opts.asRoot,
    });
    return new ToolRun(handle, path);
  }
}

/**
 * One run of the tool: its first stderr line is the status (the operation started or could not),
 * its exit decides success, and a failure after the start is a second status line.
 */
class ToolRun {
  readonly status: Promise<Record<string, unknown>>;
  readonly done: Promise<void>;
  exited = false;

  constructor(
    readonly handle: SandboxProcessHandle,
    private readonly path: string,
  ) {
    const { child } = handle;
    let stderr = '';
    let scanned = 0;
    const statusLines: Array<Record<string, unknown>> = [];
    let settleStatus!: { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void };
    this.status = new Promise((resolve, reject) => {
      settleStatus = { resolve, reject };
    });
    let statusSettled = false;
    const settle = (outcome: Record<string, unknown> | Error) => {
      if (statusSettled) return;
      statusSettled = true;
      if (outcome instanceof Error) settleStatus.reject(outcome);
      else settleStatus.resolve(outcome);
    };

    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      if (stderr.length < MAX_STDERR) stderr += text;
      for (let nl = stderr.indexOf('\n', scanned); nl !== -1; nl = stderr.indexOf('\n', scanned)) {
        const line = parseJson(stderr.slice(scanned, nl));
        scanned = nl + 1;
        if (!line) continue;
        statusLines.push(line);
        if (statusLines.length === 1) settle(line.ok === true ? line : this.errorOf(line));
      }
    });
    child.stdin.on('error', () => {}); // the tool may exit without reading its input

    this.done = new Promise<void>((resolve, reject) => {
      child.once('error', (e) => {
        this.exited = true;
        const error = new FsError('EIO', `cannot run the fs tool in the sandbox: ${e.message}`, path);
        settle(error);
        reject(error);
      });
      child.once('close', (code, signal) => {
        this.exited = true;
        const last = statusLines.at(-1);
        if (code === 0 && last?.ok === true) return resolve();
        const error =
          last && last.ok !== true
            ? this.errorOf(last)
            : new FsError('EIO', this.crashMessage(code, signal, stderr), path);
        settle(error);
        reject(error);
      });
    });
    // Callers await one or the other; neither may go unhandled.
    this.status.catch(() => {});
    this.done.catch(() => {});
  }

  noInput(): void {
    this.handle.child.stdin.end();
  }

  discardOutput(): void {
    this.handle.child.stdout.resume();
  }

  /** stdout as a stream that ends only if the tool succeeded, and errors otherwise. */
  output(): Readable {
    const out = new PassThrough();
    const stdout = this.handle.child.stdout;
    stdout.pipe(out, { end: false });
    this.done.then(
      () => out.end(),
      (e: Error) => out.destroy(e),
    );
    // The reader went away (client disconnected): stop the tool rather than leave it blocked.
    out.once('close', () => {
      if (this.exited) return;
      stdout.unpipe(out);
      stdout.resume();
      void this.kill();
    });
    return out;
  }

  async kill(): Promise<void> {
    if (this.exited) return;
    await this.handle.signal('SIGKILL').catch(() => {}); // it may have exited meanwhile
  }

  private errorOf(line: Record<string, unknown>): FsError {
    const code = typeof line.code === 'string' ? line.code : 'EIO';
    const message = typeof line.error === 'string' ? line.error : `${this.path}: ${code}`;
    const path = typeof line.path === 'string' && line.path ? line.path : this.path;
    const wire = fsErrorCodeFor(code);
    return new FsError(wire, wire === code ? message : `${message} (${code})`, path);
  }

  private crashMessage(code: number | null, signal: NodeJS.Signals | null, stderr: string): string {
    const text = stderr.trim().split('\n').slice(-3).join(' | ').slice(0, 1000);
    if (code === 127 && /python3/.test(text)) {
      return `the filesystem API runs python3 inside the sandbox, and the sandbox has none (${text})`;
    }
    return `the sandbox's fs tool ${signal ? `was killed by ${signal}` : `exited ${code}`}${text ? `: ${text}` : ''}`;
  }
}

/**
 * Copies `body` into `stdin`, with backpressure, in writes as large as the reader's pace allows:
 * what arrives while a write is in flight goes out as one write (up to COALESCE bytes). An HTTP
 * body comes in pieces of a few KiB, and under gVisor every read of them in the sandbox is a
 * costly system call. `onAbort` runs, instead of ending stdin, when the body stops short.
 */
function pumpCoalesced(body: Readable, stdin: Writable, onAbort: () => void): void {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let writing = false;
  let ended = false;
  const flush = (): void => {
    if (writing) return;
    if (pendingBytes === 0) {
      if (ended) stdin.end();
      return;
    }
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    writing = true;
    stdin.write(data, (err) => {
      writing = false;
      if (err) return; // the tool exited; its status says why
      body.resume();
      flush();
    });
  };
  body.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= COALESCE) body.pause();
    flush();
  });
  body.once('end', () => {
    ended = true;
    flush();
  });
  body.once('close', () => {
    if (!ended) onAbort();
  });
  // The client may have gone while the file was being opened.
  if (body.destroyed && !body.readableEnded) onAbort();
}

/** Lines of a stream, read with backpressure; a line longer than MAX_LINE fails the stream. */
async function* lines(stream: Readable): AsyncGenerator<string> {
  let pending = '';
  stream.setEncoding('utf8');
  for await (const chunk of stream as AsyncIterable<string>) {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) !== -1) {
      yield pending.slice(0, nl);
      pending = pending.slice(nl + 1);
    }
    if (pending.length > MAX_LINE) throw new FsError('EIO', 'the sandbox fs tool sent a line too long to be a message', '');
  }
  if (pending) yield pending;
}

function parseJson(text: string): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

const ENTRY_TYPES = new Set<FsEntryType>(['file', 'directory', 'symlink']);
const EVENT_KINDS = new Set<FsWatchEventKind>(['write', 'create', 'remove', 'rename', 'chmod']);

// The tool's output is the sandbox's word: a process inside may have replaced python3. Only
// well-formed fields pass, rebuilt rather than forwarded.
function toEntry(v: unknown): FsEntry | null {
  if (typeof v !== 'object' || v === null) return null;
  const e = v as Record<string, unknown>;
  if (typeof e.name !== 'string' || typeof e.path !== 'string' || !ENTRY_TYPES.has(e.type as FsEntryType)) return null;
  if (typeof e.size !== 'number' || typeof e.mode !== 'string' || !/^[0-7]{4}$/.test(e.mode) || typeof e.modTime !== 'string') return null;
  return {
    name: e.name,
    path: e.path,
    type: e.type as FsEntryType,
    size: e.size,
    mode: e.mode,
    modTime: e.modTime,
    isDir: e.type === 'directory',
  };
}

function toWatchMessage(m: Record<string, unknown> | null): FsWatchMessage | null {
  if (!m) return null;
  if (m.type === 'subscribed' && Array.isArray(m.paths) && m.paths.every((p) => typeof p === 'string')) {
    return { type: 'subscribed', paths: m.paths as string[] };
  }
  if (m.type === 'error' && typeof m.message === 'string') return { type: 'error', message: m.message };
  if (
    m.type === 'event' &&
    typeof m.path === 'string' &&
    EVENT_KINDS.has(m.event as FsWatchEventKind) &&
    typeof m.timestamp === 'string' &&
    typeof m.size === 'number' &&
    typeof m.isDir === 'boolean'
  ) {
    return { type: 'event', path: m.path, event: m.event as FsWatchEventKind, timestamp: m.timestamp, size: m.size, isDir: m.isDir };
  }
  return null;
}
