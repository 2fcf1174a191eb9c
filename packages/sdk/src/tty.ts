/**
 * A command on a terminal, over the exec WebSocket's TTY framing (spec §3.3-§3.5): raw pty bytes
 * both ways in binary frames, JSON control messages in text frames, and the exit code from the
 * `exit` message or, failing that, from the close code.
 */
import type { Readable, Writable } from 'node:stream';
import { ExecHandle, type ExecConnection, type HandleOptions } from './exec-handle.js';
import { CLOSED_WITHOUT_FRAME, exitCodeFromClose, type ExecMessage } from './exec-socket.js';
import type { HttpApi } from './http.js';

/** A terminal's size; what is left out is the server's default, 24 rows by 80 columns. */
export interface TerminalSize {
  rows?: number;
  cols?: number;
}

export interface TerminalSpawnOptions {
  /** `true` or a size: run the command on a terminal. */
  tty: true | TerminalSize;
  /** When given, replaces the sandbox's default environment (spec §3.1). */
  env?: Record<string, string>;
  cwd?: string;
  /** Aborting sends SIGKILL, drops the connection and fails the process with the abort reason. */
  signal?: AbortSignal;
}

/**
 * A command on a terminal in a sandbox. `stdout` carries everything the terminal shows (the
 * command's stderr included) and must be consumed; `stdin` is what is typed, byte for byte.
 * Ending stdin sends nothing: a terminal has no EOF of its own, so write `\x04` (Ctrl-D) to
 * end a shell's input.
 *
 * Made by `Sandbox.spawn(cmd, args, { tty })`, `createSession()` and `attachSession()`.
 */
export class TerminalProcess extends ExecHandle {
  readonly tty = true as const;
  readonly stdin: Writable;
  readonly stdout: Readable;

  constructor(api: HttpApi, sandboxName: string, connection: ExecConnection, options: HandleOptions = {}) {
    super(api, sandboxName, connection, options);
    this.stdout = this.outputStream();
    this.stdin = this.inputStream((piece) => piece);
    this.start();
  }

  /** Tells the terminal its new size; the server answers nonsense with an `error` message. */
  resize(cols: number, rows: number): void {
    if (!Number.isInteger(cols) || !Number.isInteger(rows) || cols < 1 || rows < 1) {
      throw new RangeError(`a terminal size is whole numbers of at least 1, got ${cols}x${rows}`);
    }
    this.sendControl({ type: 'resize', cols, rows });
  }

  protected onBinary(frame: Buffer): void {
    this.deliver(this.stdout, frame);
  }

  protected override onText(message: ExecMessage): boolean {
    if (typeof message === 'string' || message.type !== 'exit' || typeof message.exit_code !== 'number') return false;
    this.exit(message.exit_code);
    return true;
  }

  /**
   * Without an exit message the close code is the exit code (spec §3.5). A connection that
   * dropped without any close frame says nothing about the command, so that is a failure.
   */
  protected override onClose(code: number, reason: Buffer): void {
    if (code === CLOSED_WITHOUT_FRAME) super.onClose(code, reason);
    else this.exit(exitCodeFromClose(code));
  }
}
