/**
 * A sandbox's filesystem (spec §6): `sandbox.fs.readFile('/etc/hostname')`. Paths are the
 * sandbox's own; relative ones resolve against `workingDir` (default `/`). Operations run as the
 * sandbox user unless `asRoot` is set, so the sandbox's permissions apply. Reads and writes
 * stream with backpressure in both directions; failures reject with an {@link FsError} whose
 * `code` is the errno name (`ENOENT`, `EACCES`...), or a BurrowError for sandbox-level problems.
 */
import { Readable } from 'node:stream';
import { BurrowError } from './errors.js';
import { FsError, isFsError } from './fs-errors.js';
import type { FsEntry, FsListResponse, FsWatchEvent } from '@burrow/protocol';
import { FsWatcher, type FsWatchOptions } from './fs-watch.js';
import type { HttpApi } from './http.js';

/** Metadata calls get the Sprites SDKs' 30 s; streams and recursive work get no limit (spec §0). */
const DEFAULT_TIMEOUT_MS = 30_000;

export interface FsOptions {
  /** What relative paths are relative to; default `/`. */
  workingDir?: string;
  /** Run the operation as root instead of the sandbox user. */
  asRoot?: boolean;
}

export interface WriteFileOptions extends FsOptions {
  /** Permission bits, e.g. `0o600` or `'0600'`; applied to new and existing files alike. */
  mode?: number | string;
  /** Create missing parent directories (default true, as the Sprites SDKs do). */
  mkdirParents?: boolean;
}

/** Made by `sandbox.fs`, not constructed directly. */
export class SandboxFilesystem {
  constructor(
    private readonly api: HttpApi,
    private readonly sandboxName: string,
    private readonly defaults: FsOptions = {},
  ) {}

  /** The same filesystem with other defaults, e.g. `sandbox.fs.with({ asRoot: true })`. */
  with(options: FsOptions): SandboxFilesystem {
    return new SandboxFilesystem(this.api, this.sandboxName, { ...this.defaults, ...options });
  }

  async readFile(path: string, options: FsOptions = {}): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of this.readStream(path, options)) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /**
   * The file's bytes as a stream, pulled from the sandbox as fast as it is read. Errors
   * (including ENOENT) arrive as the stream's `error`; a transfer cut short is an error too,
   * never a silent early end.
   */
  readStream(path: string, options: FsOptions = {}): Readable {
    const self = this;
    async function* chunks(): AsyncGenerator<Buffer> {
      const response = await self.request('GET', 'read', self.query(path, options), { timeoutMs: null });
      if (!response.body) return;
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        yield Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
    }
    return Readable.from(chunks(), { objectMode: false });
  }

  /** Writes (creates or replaces) a file; a Readable is streamed, never held whole in memory. */
  async writeFile(path: string, data: string | Uint8Array | Readable, options: WriteFileOptions = {}): Promise<void> {
    const query = this.query(path, options);
    if (options.mkdirParents !== false) query.set('mkdirParents', 'true');
    if (options.mode !== undefined) query.set('mode', modeString(options.mode));
    const body = typeof data === 'string' || data instanceof Uint8Array ? data : bytesOf(data);
    const response = await this.request('PUT', 'write', query, {
      body,
      contentType: 'application/octet-stream',
      timeoutMs: null,
    });
    await response.body?.cancel();
  }

  /** A directory's entries (all of them below it with `recursive`); a file lists as itself. */
  async readdir(path: string, options: FsOptions & { recursive?: boolean; pattern?: string } = {}): Promise<FsEntry[]> {
    return (await this.list(path, options)).entries;
  }

  /** The entry of `path` itself, for files and directories alike (symlinks are not followed). */
  async stat(path: string, options: FsOptions = {}): Promise<FsEntry> {
    const listing = await this.list(path, { ...options, pattern: undefined });
    if (listing.self) return listing.self;
    // A server without burrow's `self`: a file is its own single entry (spec §6).
    const entry = listing.entries[0];
    if (entry && listing.entries.length === 1 && entry.path === listing.path) return entry;
    throw new FsError('EIO', `the server does not report ${path}'s own entry (it is a directory, and not burrow)`, { path, status: 500 });
  }

  async exists(path: string, options: FsOptions = {}): Promise<boolean> {
    try {
      await this.stat(path, options);
      return true;
    } catch (err) {
      if (isFsError(err) && err.code === 'ENOENT') return false;
      throw err;
    }
  }

  /**
   * Creates a directory (and its parents with `recursive`) the way the Sprites SDKs do: there is
   * no mkdir call, so an empty `.keep` is written into it and removed again.
   */
  async mkdir(path: string, options: FsOptions & { recursive?: boolean } = {}): Promise<void> {
    const keep = `${path.replace(/\/+$/, '')}/.keep`;
    try {
      await this.writeFile(keep, '', { ...options, mkdirParents: options.recursive ?? false });
    } catch (err) {
      // The failure is about the directory, not the helper file inside it.
      if (isFsError(err) && err.path === keep) throw new FsError(err.code, err.message.replace(keep, path), { status: err.status, path });
      throw err;
    }
    await this.rm(keep, options);
  }

  /** Removes a file, a symlink or an empty directory; a whole tree with `recursive`. */
  async rm(path: string, options: FsOptions & { recursive?: boolean; force?: boolean } = {}): Promise<void> {
    const query = this.query(path, options);
    if (options.recursive) query.set('recursive', 'true');
    try {
      await this.done(this.request('DELETE', 'delete', query, { timeoutMs: options.recursive ? null : DEFAULT_TIMEOUT_MS }));
    } catch (err) {
      // Like `rm -f`: only "not there" is ignored (spec §6: force ignores a 404).
      if (options.force && err instanceof BurrowError && err.status === 404 && (!isFsError(err) || err.code === 'ENOENT')) return;
      throw err;
    }
  }

  async rename(source: string, dest: string, options: FsOptions = {}): Promise<void> {
    await this.post('rename', { source, dest, ...this.common(options) }, DEFAULT_TIMEOUT_MS, source);
  }

  async copy(source: string, dest: string, options: FsOptions & { recursive?: boolean; preserveAttrs?: boolean } = {}): Promise<void> {
    const { recursive, preserveAttrs } = options;
    await this.post('copy', { source, dest, ...this.common(options), recursive, preserveAttrs }, null, source);
  }

  /** `mode` as a number (`0o755`) or an octal string (`'0755'`). */
  async chmod(path: string, mode: number | string, options: FsOptions & { recursive?: boolean } = {}): Promise<void> {
    const { recursive } = options;
    await this.post('chmod', { path, mode: modeString(mode), ...this.common(options), recursive }, recursive ? null : DEFAULT_TIMEOUT_MS, path);
  }

  /** `uid` and `gid` are ids or names from the sandbox's /etc/passwd and /etc/group; undefined keeps one. */
  async chown(
    path: string,
    uid: number | string | undefined,
    gid: number | string | undefined,
    options: FsOptions & { recursive?: boolean } = {},
  ): Promise<void> {
    const { recursive } = options;
    await this.post('chown', { path, uid, gid, ...this.common(options), recursive }, recursive ? null : DEFAULT_TIMEOUT_MS, path);
  }

  /**
   * Calls `onEvent` for every change under `paths` until `close()`. `ready` resolves with the
   * paths being watched once the server has subscribed (changes before that are not seen).
   */
  watch(paths: string | string[], options: FsWatchOptions, onEvent: (event: FsWatchEvent) => void): FsWatcher {
    const workingDir = options.workingDir ?? this.defaults.workingDir ?? '/';
    const asRoot = options.asRoot ?? this.defaults.asRoot ?? false;
    return new FsWatcher(this.api, this.sandboxName, Array.isArray(paths) ? paths : [paths], { ...options, workingDir, asRoot }, onEvent);
  }

  private async list(path: string, options: FsOptions & { recursive?: boolean; pattern?: string | undefined }): Promise<FsListResponse> {
    const query = this.query(path, options);
    if (options.recursive) query.set('recursive', 'true');
    if (options.pattern) query.set('pattern', options.pattern);
    const response = await this.request('GET', 'list', query, { timeoutMs: options.recursive ? null : DEFAULT_TIMEOUT_MS });
    return (await response.json()) as FsListResponse;
  }

  private common(options: FsOptions): { workingDir: string; asRoot?: boolean } {
    const asRoot = options.asRoot ?? this.defaults.asRoot;
    return { workingDir: options.workingDir ?? this.defaults.workingDir ?? '/', ...(asRoot ? { asRoot: true } : {}) };
  }

  private query(path: string, options: FsOptions): URLSearchParams {
    const { workingDir, asRoot } = this.common(options);
    const query = new URLSearchParams({ path, workingDir });
    if (asRoot) query.set('asRoot', 'true');
    return query;
  }

  private async post(op: string, body: Record<string, unknown>, timeoutMs: number | null, subject: string): Promise<void> {
    await this.done(this.request('POST', op, new URLSearchParams(), { json: body, timeoutMs, subject }));
  }

  private async done(response: Promise<Response>): Promise<void> {
    await (await response).body?.cancel();
  }

  /** One fs call: auth, body, no timeout for streams, and errors in the fs shape. */
  private async request(
    method: string,
    op: string,
    query: URLSearchParams,
    options: {
      body?: string | Uint8Array | AsyncIterable<Uint8Array>;
      json?: unknown;
      contentType?: string;
      timeoutMs: number | null;
      subject?: string;
    },
  ): Promise<Response> {
    const search = query.toString();
    const url = `${this.api.baseURL}/v1/sprites/${encodeURIComponent(this.sandboxName)}/fs/${op}${search ? `?${search}` : ''}`;
    const headers: Record<string, string> = { ...this.api.authHeaders() };
    let body: RequestInit['body'] | AsyncIterable<Uint8Array> | undefined = options.body;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(options.json);
    } else if (options.contentType) {
      headers['Content-Type'] = options.contentType;
    }
    const streaming = body !== undefined && typeof body === 'object' && Symbol.asyncIterator in body;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: body as RequestInit['body'],
        ...(streaming ? { duplex: 'half' } : {}),
        ...(options.timeoutMs === null ? {} : { signal: AbortSignal.timeout(options.timeoutMs) }),
      } as RequestInit);
    } catch (err) {
      throw this.api.connectionError(err, options.timeoutMs ?? undefined);
    }
    if (response.ok) return response;
    const subject = options.subject ?? query.get('path') ?? '';
    throw FsError.fromFsResponse(response.status, await response.text(), subject);
  }
}

export function modeString(mode: number | string): string {
  if (typeof mode === 'number') {
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new FsError('EINVAL', `mode ${mode} is not a permission mode`, { path: '', status: 400 });
    return mode.toString(8).padStart(4, '0');
  }
  if (!/^[0-7]{3,4}$/.test(mode)) throw new FsError('EINVAL', `mode '${mode}' is not an octal string such as 0644`, { path: '', status: 400 });
  return mode.padStart(4, '0');
}

/** A Readable's chunks as bytes (a string-mode stream included). */
async function* bytesOf(stream: Readable): AsyncGenerator<Uint8Array> {
  for await (const chunk of stream) {
    yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
  }
}
