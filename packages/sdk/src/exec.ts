/**
 * Running one command in a sandbox over the exec WebSocket (spec §3.1, non-TTY framing of
 * §3.2): a child_process-like handle whose stdout and stderr are streams with backpressure
 * all the way to the server, and whose stdin becomes 0x00 frames followed by one 0x04.
 */
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';
import { BurrowError } from './errors.js';
import type { HttpApi } from './http.js';

/** Byte 0 of every non-TTY binary frame. */
const Stream = { Stdin: 0, Stdout: 1, Stderr: 2, Exit: 3, StdinEof: 4 } as const;

/** Large writes are cut so no frame comes near a server's message size limit. */
const MAX_STDIN_FRAME = 64 * 1024;
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Above the 16 KiB default so a fast reader does not pause the socket after every frame. */
const OUTPUT_HIGH_WATER_MARK = 256 * 1024;

export interface SpawnOptions {
  /** When given, replaces the sandbox's default environment (spec §3.1). */
  env?: Record<string, string>;
  /** Working directory; the server defaults to the home directory. */
  cwd?: string;
  /**
   * Whether the caller will write to `stdin`. When false, stdin EOF is sent at once, so
   * commands that read stdin see an empty input. Default true.
   */
  stdin?: boolean;
  /** Aborting sends SIGKILL, drops the connection and fails the process with the abort reason. */
  signal?: AbortSignal;
}

export interface SandboxProcessEvents {
  exit: [code: number];
  error: [error: Error];
}

/**
 * A command running in a sandbox. `stdout` and `stderr` must both be consumed (or resumed),
 * as with child_process: a full, unread stream holds back the whole connection.
 *
 * `error` is only emitted to listeners; without one, the failure still reaches `wait()`.
 * Made by `Sandbox.spawn()`, not constructed directly.
 */
export class SandboxProcess extends EventEmitter<SandboxProcessEvents> {
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  /** The exit code, once the exit frame has arrived. */
  exitCode: number | null = null;

  private readonly ws: WebSocket;
  private readonly opened: Promise<void>;
  private readonly done: Promise<number>;
  private settle!: { resolve: (code: number) => void; reject: (err: Error) => void };
  private finished = false;
  /** Streams whose buffers are full; the socket stays paused while any is. */
  private readonly full = new Set<Readable>();

  constructor(api: HttpApi, sandboxName: string, cmd: string, args: string[] = [], options: SpawnOptions = {}) {
    super();
    this.done = new Promise<number>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    // wait() may never be called by someone who only listens for events.
    this.done.catch(() => {});

    this.stdout = this.outputStream();
    this.stderr = this.outputStream();
    this.ws = new WebSocket(execURL(api, sandboxName, cmd, args, options), {
      headers: api.authHeaders(),
      perMessageDeflate: false,
      // Covers waking a cold sandbox; without it a server that never answers hangs us forever.
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    // Settles on close too, so stdin writes and kills queued before a failed open are released.
    this.opened = new Promise<void>((resolve) => {
      this.ws.once('open', resolve);
      this.ws.once('close', () => resolve());
    });
    this.stdin = this.inputStream();

    this.ws.on('message', (data, isBinary) => {
      // Text frames are JSON notifications; nothing in non-TTY mode needs them (spec §3.2).
      if (isBinary) this.onFrame(toBuffer(data));
    });
    this.ws.on('unexpected-response', (_request, response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (err) => this.fail(api.connectionError(err)));
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        this.fail(BurrowError.fromResponse(response.statusCode ?? 500, body, headerValue(response.headers['retry-after'])));
        this.ws.terminate();
      });
    });
    this.ws.on('error', (err) => this.fail(api.connectionError(err)));
    this.ws.on('close', (code, reason) => {
      const why = reason.length > 0 ? `: ${reason.toString('utf8')}` : '';
      this.fail(
        new BurrowError(
          'unavailable',
          `exec in sandbox '${sandboxName}' lost its connection before the command exited (close code ${code}${why})`,
        ),
      );
    });

    if (options.stdin === false) this.stdin.end();
    if (options.signal) this.abortOn(options.signal);
  }

  /** Resolves with the exit code; rejects if the connection fails before the exit frame. */
  wait(): Promise<number> {
    return this.done;
  }

  /** Sends a signal to the command (spec §3.4); the server decides what the process makes of it. */
  kill(signal: string = 'SIGTERM'): void {
    if (this.finished) return;
    const message = JSON.stringify({ type: 'signal', signal });
    void this.opened.then(() => {
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(message);
    });
  }

  private onFrame(frame: Buffer): void {
    // Empty frames and unknown ids are keepalives (spec §3.6); output after exit is dropped (§3.5).
    if (frame.length === 0 || this.finished) return;
    const payload = frame.subarray(1);
    switch (frame[0]) {
      case Stream.Stdout:
        this.deliver(this.stdout, payload);
        break;
      case Stream.Stderr:
        this.deliver(this.stderr, payload);
        break;
      case Stream.Exit:
        this.exit(payload[0] ?? 0);
        break;
    }
  }

  private deliver(stream: Readable, payload: Buffer): void {
    if (payload.length === 0) return;
    if (!stream.push(payload)) {
      this.full.add(stream);
      this.ws.pause();
    }
  }

  private exit(code: number): void {
    this.finished = true;
    this.exitCode = code;
    this.endOutput();
    this.ws.close(1000);
    this.settle.resolve(code);
    this.emit('exit', code);
  }

  private fail(err: Error): void {
    if (this.finished) return;
    this.finished = true;
    // Ending (not destroying) the streams keeps an unwatched stream from throwing; the
    // failure itself is reported once, through wait() and `error`.
    this.endOutput();
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    this.settle.reject(err);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  private endOutput(): void {
    this.stdout.push(null);
    this.stderr.push(null);
    this.full.clear();
    this.resumeSocket();
  }

  private resumeSocket(): void {
    // ws.resume() throws once the socket is gone; isPaused is only set on a live one.
    if (this.ws.isPaused && this.ws.readyState !== WebSocket.CLOSED) this.ws.resume();
  }

  private outputStream(): Readable {
    const stream: Readable = new Readable({
      highWaterMark: OUTPUT_HIGH_WATER_MARK,
      read: () => {
        if (this.full.delete(stream) && this.full.size === 0) this.resumeSocket();
      },
    });
    return stream;
  }

  private inputStream(): Writable {
    const send = (frame: Buffer, callback: (err?: Error | null) => void): void => {
      void this.opened.then(() => {
        // The command is gone: like writing to a closed pipe, but quietly, since the exit
        // code (or wait()'s rejection) already tells the caller what happened.
        if (this.finished || this.ws.readyState !== WebSocket.OPEN) return callback();
        this.ws.send(frame, (err) => callback(this.finished ? null : err));
      });
    };
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        const frames: Buffer[] = [];
        for (let at = 0; at < chunk.length; at += MAX_STDIN_FRAME) {
          frames.push(Buffer.concat([Buffer.of(Stream.Stdin), chunk.subarray(at, at + MAX_STDIN_FRAME)]));
        }
        const sendNext = (err?: Error | null): void => {
          const frame = frames.shift();
          if (err || frame === undefined) return callback(err);
          send(frame, sendNext);
        };
        sendNext();
      },
      final: (callback) => send(Buffer.of(Stream.StdinEof), callback),
    });
  }

  private abortOn(signal: AbortSignal): void {
    const abort = (): void => {
      if (this.finished) return;
      const reason = signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason));
      if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify({ type: 'signal', signal: 'SIGKILL' }));
      // Fail first, so the errors that tearing down the socket raises do not replace the reason.
      this.fail(reason);
      if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    };
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    void this.done.finally(() => signal.removeEventListener('abort', abort)).catch(() => {});
  }
}

function execURL(api: HttpApi, sandboxName: string, cmd: string, args: string[], options: SpawnOptions): string {
  const query = new URLSearchParams();
  for (const arg of [cmd, ...args]) query.append('cmd', arg);
  query.set('path', cmd);
  query.set('stdin', String(options.stdin !== false));
  for (const [key, value] of Object.entries(options.env ?? {})) query.append('env', `${key}=${value}`);
  if (options.cwd !== undefined) query.set('dir', options.cwd);
  return api.websocketURL(`/v1/sprites/${encodeURIComponent(sandboxName)}/exec`, query);
}

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
