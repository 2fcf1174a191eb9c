/**
 * A command without a terminal, over the exec WebSocket's non-TTY framing (spec §3.2): a
 * child_process-like handle whose stdout and stderr are separate streams with backpressure all
 * the way to the server, and whose stdin becomes 0x00 frames followed by one 0x04.
 */
import type { Readable, Writable } from 'node:stream';
import { ExecHandle, type ExecConnection, type ExecHandleEvents, type HandleOptions } from './exec-handle.js';
import type { HttpApi } from './http.js';

/** Byte 0 of every non-TTY binary frame. */
const Stream = { Stdin: 0, Stdout: 1, Stderr: 2, Exit: 3, StdinEof: 4 } as const;

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
  /** Without a terminal; pass `tty: { rows, cols }` for one (see TerminalProcess). */
  tty?: false;
}

export type SandboxProcessEvents = ExecHandleEvents;

/**
 * A command running in a sandbox. `stdout` and `stderr` must both be consumed (or resumed),
 * as with child_process: a full, unread stream holds back the whole connection.
 *
 * `error` is only emitted to listeners; without one, the failure still reaches `wait()`.
 * Made by `Sandbox.spawn()`, `createSession()` and `attachSession()`, not constructed directly.
 */
export class SandboxProcess extends ExecHandle {
  readonly tty = false as const;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;

  constructor(api: HttpApi, sandboxName: string, connection: ExecConnection, options: HandleOptions & { stdin?: boolean } = {}) {
    super(api, sandboxName, connection, options);
    this.stdout = this.outputStream();
    this.stderr = this.outputStream();
    this.stdin = this.inputStream((piece) => Buffer.concat([Buffer.of(Stream.Stdin), piece]), Buffer.of(Stream.StdinEof));
    this.start();
    if (options.stdin === false) this.stdin.end();
  }

  protected onBinary(frame: Buffer): void {
    // Unknown stream ids are ignored, as both Sprites SDKs do (spec §3.2).
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
}
