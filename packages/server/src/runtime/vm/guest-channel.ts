// The host end of the channel to a `vm` sandbox's bridge (image/vm/burrow-vm-bridge.c): frames
// over one stream (QEMU's unix socket for the virtio-serial port; later vsock), several commands
// at a time, each with its own id. The frame layouts are documented in the bridge's source.
//
// Memory is bounded both ways by credit: the host sends a command at most STDIN_WINDOW bytes of
// input the bridge has not acknowledged (STDIN_ACK), and the bridge sends at most OUTPUT_WINDOW
// bytes per stream the host has not acknowledged (OUTPUT_ACK), so the socket is always read and
// a consumer that stops reading stops its own command only (guest-process.ts acknowledges what
// its consumer takes).
//
// Host sockets offered in the guest (guest-sockets.ts) are relayed through the same channel.
import { connect, type Socket } from 'node:net';
import { encodeFrame, FrameDecoder, FRAME, MAX_PAYLOAD, type Frame } from './frames.js';
import { SocketRelay, type OfferedSocket } from './guest-sockets.js';

/** Input bytes a command may have in flight to the bridge (its queue there); as in the bridge. */
export const STDIN_WINDOW = 256 * 1024;
/** Output bytes per stream the bridge sends before it waits for an acknowledgement; as in the bridge. */
export const OUTPUT_WINDOW = 256 * 1024;
/** The largest STDIN frame the host sends (the bridge reads a frame whole before anything else). */
export const STDIN_FRAME = 64 * 1024;

/** What runs in the guest, exactly: no PATH or HOME is added, `args[0]` is searched in `env`'s PATH. */
export interface GuestCommand {
  args: readonly string[];
  env: readonly string[];
  cwd: string;
  uid: number;
  gid: number;
}

/** EXEC's payload: uid, gid, argc, envc (u32 LE each), then cwd, argv and env, each NUL-terminated. */
export function encodeExec(command: GuestCommand): Buffer {
  const strings = [command.cwd, ...command.args, ...command.env];
  if (!command.args.length) throw new Error('a command needs a program');
  if (strings.some((s) => s.includes('\0'))) throw new Error('a command, its environment and directory hold no NUL byte');
  if (command.env.some((e) => e.indexOf('=') < 1)) throw new Error('an environment entry is NAME=VALUE');
  for (const id of [command.uid, command.gid]) if (!Number.isInteger(id) || id < 0 || id > 0xfffffffe) throw new Error(`${id} is no uid or gid`);
  const head = Buffer.alloc(16);
  head.writeUInt32LE(command.uid, 0);
  head.writeUInt32LE(command.gid, 4);
  head.writeUInt32LE(command.args.length, 8);
  head.writeUInt32LE(command.env.length, 12);
  const payload = Buffer.concat([head, Buffer.from(strings.map((s) => `${s}\0`).join(''))]);
  if (payload.length > MAX_PAYLOAD) throw new Error(`a command and its environment hold at most ${MAX_PAYLOAD} bytes`);
  return payload;
}

/** How the channel tells a command what its guest end did. */
export interface CommandSink {
  started(pid: number): void;
  output(stream: 'stdout' | 'stderr', data: Buffer): void;
  /** The bridge wrote `bytes` of input to the command (or dropped them): as many more may be sent. */
  stdinAcked(bytes: number): void;
  /** After all of its output. `signal` is 0 if it exited; `code` is then its status. */
  exited(code: number, signal: number): void;
  /** It could not start, or the channel was lost: nothing more comes. */
  failed(error: Error): void;
}

/** How a command talks to its guest end. */
export interface CommandLink {
  /** At most the credit the bridge has given (STDIN_WINDOW less what it has not acknowledged). */
  stdin(data: Uint8Array): void;
  stdinEof(): void;
  kill(signal: number): void;
  /** Output passed on to the consumer: the bridge may read as much more. */
  ackOutput(stdout: number, stderr: number): void;
}

export class GuestChannel {
  private readonly decoder = new FrameDecoder();
  private readonly commands = new Map<number, CommandSink>();
  private nextId = 1;
  private readyWaiters: Array<() => void> = [];
  private isReady = false;
  private closedBecause: Error | null = null;
  private readonly relay: SocketRelay;
  private markClosed!: (why: Error) => void;
  /** Resolves, with why, once the channel is lost or closed: nothing more can run through it. */
  readonly closed = new Promise<Error>((resolve) => (this.markClosed = resolve));

  private constructor(private readonly socket: Socket) {
    this.relay = new SocketRelay((type, id, payload) => {
      if (!this.closedBecause) socket.write(encodeFrame(type, id, payload));
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        for (const frame of this.decoder.push(chunk)) this.dispatch(frame);
      } catch (e) {
        this.fail(e as Error);
        socket.destroy();
      }
    });
    socket.on('close', () => this.fail(new Error('the channel to the guest closed')));
    socket.on('error', (e) => this.fail(e));
    // The bridge ends what a host before this one left running: its ids are about to be reused.
    socket.write(encodeFrame(FRAME.HELLO, 0));
  }

  /** Connects to QEMU's socket, retrying while QEMU has not created it yet. */
  static async connect(path: string, timeoutMs: number): Promise<GuestChannel> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = connect(path, () => resolve(s));
          s.once('error', reject);
        });
        return new GuestChannel(socket);
      } catch (e) {
        if (Date.now() > deadline) throw new Error(`cannot connect to the guest's channel ${path}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  /** Resolves once the bridge in the guest has said it serves (the guest has booted). */
  ready(timeoutMs: number): Promise<void> {
    if (this.isReady) return Promise.resolve();
    if (this.closedBecause) return Promise.reject(this.closedBecause);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the guest did not come up within ${timeoutMs} ms`)), timeoutMs);
      this.readyWaiters.push(() => {
        clearTimeout(timer);
        if (this.closedBecause) reject(this.closedBecause);
        else resolve();
      });
    });
  }

  /** Starts `command` in the guest; what it does arrives through `sink`. Throws if it cannot be sent. */
  open(command: GuestCommand, sink: CommandSink): CommandLink {
    if (this.closedBecause) throw this.closedBecause;
    const payload = encodeExec(command);
    const id = this.nextId++;
    this.commands.set(id, sink);
    this.socket.write(encodeFrame(FRAME.EXEC, id, payload));
    const send = (type: number, data?: Uint8Array) => {
      if (!this.closedBecause && this.commands.has(id)) this.socket.write(encodeFrame(type, id, data));
    };
    const u32s = (...values: number[]) => {
      const b = Buffer.alloc(4 * values.length);
      values.forEach((v, i) => b.writeUInt32LE(v, 4 * i));
      return b;
    };
    return {
      stdin: (data) => send(FRAME.STDIN, data),
      stdinEof: () => send(FRAME.STDIN_EOF),
      kill: (signal) => send(FRAME.KILL, u32s(signal)),
      ackOutput: (stdout, stderr) => send(FRAME.OUTPUT_ACK, u32s(stdout, stderr)),
    };
  }

  /** Has the guest listen for `sockets` and relay what connects to them to the host's. */
  offer(sockets: readonly OfferedSocket[]): void {
    if (this.closedBecause) throw this.closedBecause;
    this.relay.offer(sockets);
  }

  close(): void {
    this.socket.destroy();
  }

  private dispatch(frame: Frame): void {
    if (frame.type === FRAME.READY) {
      this.isReady = true;
      for (const wake of this.readyWaiters.splice(0)) wake();
      return;
    }
    if (this.relay.dispatch(frame)) return;
    const command = this.commands.get(frame.id);
    if (!command) return;
    const { payload } = frame;
    switch (frame.type) {
      case FRAME.STARTED:
        return command.started(payload.readInt32LE(0));
      case FRAME.STDOUT:
        return command.output('stdout', payload);
      case FRAME.STDERR:
        return command.output('stderr', payload);
      case FRAME.STDIN_ACK:
        return command.stdinAcked(payload.readUInt32LE(0));
      case FRAME.EXIT:
        this.commands.delete(frame.id);
        return command.exited(payload.readInt32LE(0), payload.readInt32LE(4));
      case FRAME.ERROR:
        this.commands.delete(frame.id);
        return command.failed(new Error(`the guest could not start the command: ${payload.toString()}`));
    }
  }

  private fail(error: Error): void {
    if (this.closedBecause) return;
    this.closedBecause = error;
    this.markClosed(error);
    this.relay.closeAll();
    const commands = [...this.commands.values()];
    this.commands.clear();
    for (const command of commands) command.failed(error);
    for (const wake of this.readyWaiters.splice(0)) wake();
  }
}
