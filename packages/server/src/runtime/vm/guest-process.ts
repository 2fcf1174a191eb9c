// A command running in a `vm` guest, shaped like the ChildProcess that `runc exec` gives the OCI
// runtimes, so that core/ drives both the same: stdin, stdout and stderr streams, 'spawn',
// 'exit', 'error' and 'close', exitCode and signalCode, kill(). It speaks to the guest through
// a GuestChannel, which may still be connecting when the command is made.
//
// Flow control follows the channel's credits: stdin writes complete as the bridge acknowledges
// input (so piping into stdin has backpressure), and output is acknowledged as the consumer
// takes it, so a paused stdout holds at most its buffer plus one window here; a guest that
// sends more than that loses its channel.
//
// Unlike a host child, 'exit' comes with 'close', once the command has exited and its output
// pipes have closed: the bridge sends the exit after the last byte of output.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { constants } from 'node:os';
import { Readable, Writable } from 'node:stream';
import { OUTPUT_WINDOW, STDIN_FRAME, STDIN_WINDOW, type CommandLink, type CommandSink, type GuestChannel, type GuestCommand } from './guest-channel.js';

const OUTPUT_BUFFER = 64 * 1024;

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** An output stream that acknowledges bytes to the guest once its consumer has taken them. */
class GuestOutput extends Readable {
  private unacknowledged = 0;

  constructor(private readonly acknowledge: (bytes: number) => void) {
    super({ highWaterMark: OUTPUT_BUFFER });
  }

  /** Throws if the guest sent more than its window: what it says is never held without bound. */
  deliver(data: Buffer): void {
    if (this.unacknowledged + data.length > OUTPUT_WINDOW) throw new Error(`the guest sent more output than the ${OUTPUT_WINDOW} bytes it was credited`);
    // Under the buffer's mark the bytes are as good as taken; over it, they wait for a read.
    if (this.push(data)) this.acknowledge(data.length);
    else this.unacknowledged += data.length;
  }

  override _read(): void {
    if (!this.unacknowledged) return;
    const bytes = this.unacknowledged;
    this.unacknowledged = 0;
    this.acknowledge(bytes);
  }
}

/** stdin: each write completes once the guest has room for it (its credit). */
class GuestInput extends Writable {
  private link: CommandLink | null = null;
  private credit = 0;
  private pending: { data: Buffer; done: (error?: Error | null) => void } | null = null;
  private endPending: (() => void) | null = null;
  /** The command is gone: what is written is dropped, as a pipe whose reader exited would. */
  private discarding = false;

  attach(link: CommandLink): void {
    this.link = link;
    this.credit = STDIN_WINDOW;
    this.pump();
    if (this.endPending) this._final(this.endPending);
  }

  credited(bytes: number): void {
    this.credit = Math.min(STDIN_WINDOW, this.credit + bytes);
    this.pump();
  }

  discard(): void {
    this.discarding = true;
    this.pump();
    this.endPending?.();
    this.endPending = null;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    this.pending = { data: chunk, done };
    this.pump();
  }

  override _final(done: () => void): void {
    if (this.discarding) return done();
    if (!this.link) {
      this.endPending = done;
      return;
    }
    this.endPending = null;
    this.link.stdinEof();
    done();
  }

  private pump(): void {
    const pending = this.pending;
    if (!pending) return;
    if (!this.discarding) {
      if (!this.link) return;
      while (pending.data.length && this.credit > 0) {
        const size = Math.min(pending.data.length, this.credit, STDIN_FRAME);
        this.link.stdin(pending.data.subarray(0, size));
        this.credit -= size;
        pending.data = pending.data.subarray(size);
      }
      if (pending.data.length) return;
    }
    this.pending = null;
    pending.done();
  }
}

/** The members of ChildProcess that a guest command has, checked against Node's types. */
type ChildProcessShape = Pick<
  ChildProcessWithoutNullStreams,
  'stdin' | 'stdout' | 'stderr' | 'pid' | 'exitCode' | 'signalCode' | 'killed' | 'spawnargs' | 'spawnfile' | 'kill' | 'ref' | 'unref'
>;

export class GuestProcess extends EventEmitter implements ChildProcessShape {
  readonly stdin = new GuestInput();
  readonly stdout: GuestOutput;
  readonly stderr: GuestOutput;
  readonly spawnargs: string[];
  readonly spawnfile: string;
  pid: number | undefined = undefined;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  private link: CommandLink | null = null;
  private pendingSignals: number[] = [];
  private ended = false;

  constructor(channel: Promise<GuestChannel>, command: GuestCommand) {
    super();
    this.spawnargs = [...command.args];
    this.spawnfile = command.args[0] ?? '';
    this.stdout = new GuestOutput((bytes) => this.link?.ackOutput(bytes, 0));
    this.stderr = new GuestOutput((bytes) => this.link?.ackOutput(0, bytes));
    const sink: CommandSink = {
      started: (pid) => {
        this.pid = pid;
        this.emit('spawn');
      },
      output: (stream, data) => (stream === 'stdout' ? this.stdout : this.stderr).deliver(data),
      stdinAcked: (bytes) => this.stdin.credited(bytes),
      exited: (code, signal) => this.exited(code, signal),
      failed: (error) => this.failed(error),
    };
    channel.then(
      (c) => {
        if (this.ended) return;
        try {
          this.link = c.open(command, sink);
        } catch (e) {
          return this.failed(e as Error);
        }
        this.stdin.attach(this.link);
        for (const signal of this.pendingSignals.splice(0)) this.link.kill(signal);
      },
      (e: Error) => this.failed(e),
    );
  }

  /** Sends `signal` to the command's process group in the guest; false once it has ended. */
  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    const number = typeof signal === 'number' ? signal : constants.signals[signal];
    if (number === undefined) throw new Error(`unknown signal ${String(signal)}`);
    if (this.ended) return false;
    if (this.link) this.link.kill(number);
    else this.pendingSignals.push(number);
    this.killed = true;
    return true;
  }

  /** A guest command keeps nothing of the daemon's event loop alive beyond its channel. */
  ref(): void {}

  unref(): void {}

  /** The guest sends EXIT after all output: both streams end now, and 'close' follows them. */
  private exited(code: number, signal: number): void {
    this.ended = true;
    this.signalCode = signal ? (SIGNAL_NAMES.get(signal) ?? null) : null;
    this.exitCode = signal ? null : code;
    this.stdin.discard();
    this.emit('exit', this.exitCode, this.signalCode);
    this.closeAfterOutput();
    this.stdout.push(null);
    this.stderr.push(null);
    // As Node does for a child's pipes: a stream nobody ever read is drained, so that 'close' comes.
    for (const stream of [this.stdout, this.stderr]) if (stream.readableFlowing === null) stream.resume();
  }

  /** It never started, or the channel was lost: 'error', then 'close' (whatever output was pending is dropped). */
  private failed(error: Error): void {
    if (this.ended) return;
    this.ended = true;
    process.nextTick(() => {
      this.stdin.discard();
      this.emit('error', error);
      this.closeAfterOutput();
      this.stdout.destroy();
      this.stderr.destroy();
    });
  }

  private closeAfterOutput(): void {
    let open = 2;
    const closed = () => {
      if (--open === 0) this.emit('close', this.exitCode, this.signalCode);
    };
    for (const stream of [this.stdout, this.stderr]) {
      if (stream.closed) closed();
      else stream.once('close', closed);
    }
  }

  /** Typed as what SandboxRuntime.exec returns: the members core/ uses are those of ChildProcessShape. */
  asChildProcess(): ChildProcessWithoutNullStreams {
    return this as unknown as ChildProcessWithoutNullStreams;
  }
}

export interface GuestResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion with `input` as its stdin: its status (128 + N for death by
 * signal N) and output. Rejects if it cannot start, or it outlasts `timeoutMs` (then it is killed).
 */
export function runInGuest(channel: Promise<GuestChannel>, command: GuestCommand, input: Uint8Array = Buffer.alloc(0), timeoutMs = 60_000): Promise<GuestResult> {
  const child = new GuestProcess(channel, command);
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => stdout.push(b));
  child.stderr.on('data', (b: Buffer) => stderr.push(b));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command.args.join(' ')} outlasted ${timeoutMs} ms`));
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
      clearTimeout(timer);
      resolve({
        code: code ?? 128 + (signal ? constants.signals[signal] : 0),
        stdout: Buffer.concat(stdout).toString(),
        stderr: Buffer.concat(stderr).toString(),
      });
    });
  });
}
