/**
 * What every command handle shares, whatever its framing: the exec socket's life from open to
 * exit, backpressure from the output streams to the socket, stdin cut into frames, control
 * messages (signal, resize), session_info, detaching, and the one promise that settles with the
 * exit. The framings live in `exec.ts` (non-TTY, spec §3.2) and `tty.ts` (TTY, spec §3.3).
 */
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import WebSocket from 'ws';
import { BurrowError, SessionDetachedError } from './errors.js';
import {
  asSessionInfo,
  openExecSocket,
  parseTextFrame,
  refusalError,
  toBuffer,
  type ExecMessage,
  type ReceivedFrame,
} from './exec-socket.js';
import type { HttpApi } from './http.js';
import type { SessionInfoMessage } from '@burrow/protocol';

/** Large writes are cut so no frame comes near a server's message size limit. */
const MAX_INPUT_FRAME = 64 * 1024;
/** Above the 16 KiB default so a fast reader does not pause the socket after every frame. */
const OUTPUT_HIGH_WATER_MARK = 256 * 1024;
/** The Sprites JS SDK's wait for session_info after the socket opens (spec §3.8). */
export const SESSION_INFO_TIMEOUT_MS = 10_000;

export interface ExecHandleEvents {
  exit: [code: number];
  error: [error: Error];
  /** The session_info frame; `sessionId` is set before this is emitted. */
  session: [info: SessionInfoMessage];
  /** Every other text frame: notifications such as port_opened or a server `error`. */
  message: [message: ExecMessage];
}

/**
 * Where a handle's socket comes from: a URL to open, or an attach socket that has already
 * delivered its session_info (and maybe frames before it, replayed in order).
 */
export type ExecConnection = { url: string } | { socket: WebSocket; info: SessionInfoMessage; early: ReceivedFrame[] };

export interface HandleOptions {
  /** Aborting sends SIGKILL, drops the connection and fails the handle with the abort reason. */
  signal?: AbortSignal | undefined;
}

/**
 * Subclasses create their streams, then call {@link start}: frames may be replayed at once, so
 * the streams must exist before the handle starts listening.
 */
export abstract class ExecHandle extends EventEmitter<ExecHandleEvents> {
  /** Whether the bytes are a terminal's (stdout only) or separate stdout and stderr streams. */
  abstract readonly tty: boolean;
  /** The exit code, once the command's exit has arrived. */
  exitCode: number | null = null;
  /** The server's id for this session, once session_info arrived (TTY and detachable commands). */
  sessionId: string | undefined;

  protected readonly ws: WebSocket;
  /** Settles on open, or on close, so writes and signals queued before a failed open are released. */
  protected readonly opened: Promise<void>;
  private readonly done: Promise<number>;
  private settle!: { resolve: (code: number) => void; reject: (err: Error) => void };
  private readonly sessionKnown: Promise<SessionInfoMessage>;
  private settleSession!: { resolve: (info: SessionInfoMessage) => void; reject: (err: Error) => void };
  private finished = false;
  private readonly outputs: Readable[] = [];
  /** Streams whose buffers are full; the socket stays paused while any is. */
  private readonly full = new Set<Readable>();

  protected constructor(
    protected readonly api: HttpApi,
    readonly sandboxName: string,
    private readonly connection: ExecConnection,
    private readonly options: HandleOptions = {},
  ) {
    super();
    this.done = new Promise<number>((resolve, reject) => {
      this.settle = { resolve, reject };
    });
    this.sessionKnown = new Promise<SessionInfoMessage>((resolve, reject) => {
      this.settleSession = { resolve, reject };
    });
    // Either may never be awaited by someone who only listens for events.
    this.done.catch(() => {});
    this.sessionKnown.catch(() => {});

    this.ws = 'url' in connection ? openExecSocket(api, connection.url) : connection.socket;
    this.opened =
      this.ws.readyState === WebSocket.OPEN
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            this.ws.once('open', resolve);
            this.ws.once('close', () => resolve());
          });
  }

  /** Resolves with the exit code; rejects if the connection fails first, or after {@link detach}. */
  wait(): Promise<number> {
    return this.done;
  }

  /**
   * Resolves with session_info once it arrived; rejects if it does not come within `timeoutMs`
   * of the socket opening, or the handle ends first. Only TTY and detachable commands get one.
   */
  waitForSession(timeoutMs: number = SESSION_INFO_TIMEOUT_MS): Promise<SessionInfoMessage> {
    return new Promise((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      this.sessionKnown.then(
        (info) => {
          clearTimeout(timer);
          resolve(info);
        },
        (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      );
      void this.opened.then(() => {
        if (this.sessionId !== undefined || this.finished) return;
        timer = setTimeout(() => {
          reject(
            new BurrowError(
              'unavailable',
              `burrow sent no session_info within ${timeoutMs / 1000} s of opening exec in sandbox '${this.sandboxName}'`,
            ),
          );
        }, timeoutMs);
      });
    });
  }

  /** Sends a signal to the command (spec §3.4); the server decides what the process makes of it. */
  kill(signal: string = 'SIGTERM'): void {
    this.sendControl({ type: 'signal', signal });
  }

  /**
   * Leaves without stopping anything: the socket closes, the output streams end, and `wait()`
   * rejects with a SessionDetachedError. A detachable session keeps running on the server (see
   * `Sandbox.attachSession`); a plain command ends when its connection does.
   */
  detach(): Promise<void> {
    const closed = new Promise<void>((resolve) => {
      if (this.ws.readyState === WebSocket.CLOSED) resolve();
      else this.ws.once('close', () => resolve());
    });
    if (this.finished) return closed;
    const err = new SessionDetachedError(this.sandboxName, this.sessionId);
    this.finish(err);
    this.settle.reject(err);
    if (this.ws.readyState === WebSocket.CONNECTING) this.ws.terminate();
    else if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    return closed;
  }

  /** One binary frame, never empty: empty frames are keepalives (spec §3.6). */
  protected abstract onBinary(frame: Buffer): void;

  /** A text frame other than session_info; returns false to have it emitted as `message`. */
  protected onText(_message: ExecMessage): boolean {
    return false;
  }

  /** The socket closed before the command's exit arrived. */
  protected onClose(code: number, reason: Buffer): void {
    const why = reason.length > 0 ? `: ${reason.toString('utf8')}` : '';
    const session = this.sessionId === undefined ? '' : `; session '${this.sessionId}' may still be running`;
    this.fail(
      new BurrowError(
        'unavailable',
        `exec in sandbox '${this.sandboxName}' lost its connection before the command exited (close code ${code}${why})${session}`,
      ),
    );
  }

  protected start(): void {
    this.ws.on('message', (data, isBinary) => this.receive(toBuffer(data), isBinary));
    this.ws.on('unexpected-response', (_request, response) => {
      void refusalError(this.api, response).then((err) => {
        this.fail(err);
        this.ws.terminate();
      });
    });
    this.ws.on('error', (err) => this.fail(this.api.connectionError(err)));
    this.ws.on('close', (code, reason) => {
      if (!this.finished) this.onClose(code, reason);
    });
    if ('info' in this.connection) {
      this.onSessionInfo(this.connection.info);
      for (const [data, isBinary] of this.connection.early) this.receive(data, isBinary);
    }
    if (this.options.signal) this.abortOn(this.options.signal);
  }

  protected exit(code: number): void {
    if (this.finished) return;
    this.exitCode = code;
    this.finish(new BurrowError('unavailable', `the command in sandbox '${this.sandboxName}' exited (${code}) before sending session_info`));
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    this.settle.resolve(code);
    this.emit('exit', code);
  }

  protected fail(err: Error): void {
    if (this.finished) return;
    this.finish(err);
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    this.settle.reject(err);
    if (this.listenerCount('error') > 0) this.emit('error', err);
  }

  /** Queued until the socket opens; dropped once the command is over. */
  protected sendControl(message: Record<string, unknown>): void {
    this.whenOpen(JSON.stringify(message), () => {});
  }

  protected deliver(stream: Readable, payload: Buffer): void {
    if (payload.length === 0) return;
    if (!stream.push(payload)) {
      this.full.add(stream);
      this.ws.pause();
    }
  }

  protected outputStream(): Readable {
    const stream: Readable = new Readable({
      highWaterMark: OUTPUT_HIGH_WATER_MARK,
      read: () => {
        if (this.full.delete(stream) && this.full.size === 0) this.resumeSocket();
      },
    });
    this.outputs.push(stream);
    return stream;
  }

  /**
   * Stdin as frames of at most 64 KiB, each made by `frame`; `eof`, if given, is sent on end().
   * Writes after the command is gone are dropped quietly, like writing to a closed pipe but
   * without the error: the exit code (or wait()'s rejection) already says what happened.
   */
  protected inputStream(frame: (piece: Buffer) => Buffer, eof?: Buffer): Writable {
    const send = (data: Buffer, callback: (err?: Error | null) => void): void => this.whenOpen(data, callback);
    return new Writable({
      write: (chunk: Buffer, _encoding, callback) => {
        const frames: Buffer[] = [];
        for (let at = 0; at < chunk.length; at += MAX_INPUT_FRAME) frames.push(frame(chunk.subarray(at, at + MAX_INPUT_FRAME)));
        const sendNext = (err?: Error | null): void => {
          const next = frames.shift();
          if (err || next === undefined) return callback(err);
          send(next, sendNext);
        };
        sendNext();
      },
      final: (callback) => (eof ? send(eof, callback) : callback()),
    });
  }

  /**
   * Sends at once on an open socket, so that a detach() right after a write or a signal still
   * lets it out first (the close frame goes after it); before the open, queues it.
   */
  private whenOpen(data: Buffer | string, callback: (err?: Error | null) => void): void {
    const send = (): void => {
      if (this.finished || this.ws.readyState !== WebSocket.OPEN) return callback();
      this.ws.send(data, (err) => callback(this.finished ? null : err));
    };
    if (this.ws.readyState === WebSocket.OPEN) send();
    else void this.opened.then(send);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    // Anything after the exit (or a detach) is dropped (spec §3.5).
    if (this.finished) return;
    if (isBinary) {
      if (data.length > 0) this.onBinary(data);
      return;
    }
    const message = parseTextFrame(data);
    const info = asSessionInfo(message);
    if (info) this.onSessionInfo(info);
    else if (!this.onText(message)) this.emit('message', message);
  }

  private onSessionInfo(info: SessionInfoMessage): void {
    this.sessionId = String(info.session_id);
    this.settleSession.resolve(info);
    this.emit('session', info);
  }

  /** Marks the handle over: ends the output (ending, not destroying, keeps an unwatched stream from throwing). */
  private finish(sessionFailure: Error): void {
    this.finished = true;
    this.settleSession.reject(sessionFailure);
    for (const stream of this.outputs) stream.push(null);
    this.full.clear();
    this.resumeSocket();
  }

  private resumeSocket(): void {
    // ws.resume() throws once the socket is gone; isPaused is only set on a live one.
    if (this.ws.isPaused && this.ws.readyState !== WebSocket.CLOSED) this.ws.resume();
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
