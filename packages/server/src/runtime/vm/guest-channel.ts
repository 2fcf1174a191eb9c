// The host end of the channel to a `vm` sandbox's bridge (image/vm/burrow-vm-bridge.c): frames
// over one stream (QEMU's unix socket for the virtio-serial port; later vsock), several commands
// at a time, each with its own id.
import { connect, type Socket } from 'node:net';

export const FRAME = {
  EXEC: 1,
  STDIN: 2,
  STDIN_EOF: 3,
  READY: 10,
  STDOUT: 11,
  STDERR: 12,
  EXIT: 13,
  ERROR: 14,
} as const;

const HEADER_BYTES = 9;
/** The bridge refuses frames larger than this; the host never sends one. */
export const MAX_PAYLOAD = 1 << 20;

export interface Frame {
  type: number;
  id: number;
  payload: Buffer;
}

export function encodeFrame(type: number, id: number, payload: Uint8Array = Buffer.alloc(0)): Buffer {
  if (payload.length > MAX_PAYLOAD) throw new Error(`a frame holds at most ${MAX_PAYLOAD} bytes`);
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = type;
  header.writeUInt32LE(id, 1);
  header.writeUInt32LE(payload.length, 5);
  return Buffer.concat([header, payload]);
}

/** Splits a byte stream into frames; bytes of an unfinished frame wait for the next chunk. */
export class FrameDecoder {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): Frame[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const frames: Frame[] = [];
    while (this.pending.length >= HEADER_BYTES) {
      const length = this.pending.readUInt32LE(5);
      if (length > MAX_PAYLOAD) throw new Error(`the guest sent a frame of ${length} bytes (at most ${MAX_PAYLOAD})`);
      if (this.pending.length < HEADER_BYTES + length) break;
      frames.push({
        type: this.pending[0]!,
        id: this.pending.readUInt32LE(1),
        payload: Buffer.from(this.pending.subarray(HEADER_BYTES, HEADER_BYTES + length)),
      });
      this.pending = this.pending.subarray(HEADER_BYTES + length);
    }
    return frames;
  }
}

export interface GuestResult {
  code: number;
  stdout: string;
  stderr: string;
}

interface Pending {
  stdout: Buffer[];
  stderr: Buffer[];
  resolve: (result: GuestResult) => void;
  reject: (error: Error) => void;
}

export class GuestChannel {
  private readonly decoder = new FrameDecoder();
  private readonly commands = new Map<number, Pending>();
  private nextId = 1;
  private readyWaiters: Array<() => void> = [];
  private isReady = false;
  private closedBecause: Error | null = null;

  private constructor(private readonly socket: Socket) {
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

  /** Runs argv in the guest to completion, with `input` as its stdin. */
  run(argv: readonly string[], input: Uint8Array = Buffer.alloc(0)): Promise<GuestResult> {
    if (this.closedBecause) return Promise.reject(this.closedBecause);
    if (!argv.length || argv.some((a) => a.includes('\0'))) return Promise.reject(new Error('argv must be non-empty strings without NUL'));
    const id = this.nextId++;
    const done = new Promise<GuestResult>((resolve, reject) => this.commands.set(id, { stdout: [], stderr: [], resolve, reject }));
    this.socket.write(encodeFrame(FRAME.EXEC, id, Buffer.from(argv.map((a) => `${a}\0`).join(''))));
    for (let at = 0; at < input.length; at += MAX_PAYLOAD) this.socket.write(encodeFrame(FRAME.STDIN, id, input.subarray(at, at + MAX_PAYLOAD)));
    this.socket.write(encodeFrame(FRAME.STDIN_EOF, id));
    return done;
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
    const command = this.commands.get(frame.id);
    if (!command) return;
    if (frame.type === FRAME.STDOUT) command.stdout.push(frame.payload);
    else if (frame.type === FRAME.STDERR) command.stderr.push(frame.payload);
    else if (frame.type === FRAME.EXIT) {
      this.commands.delete(frame.id);
      command.resolve({
        code: frame.payload.readInt32LE(0),
        stdout: Buffer.concat(command.stdout).toString(),
        stderr: Buffer.concat(command.stderr).toString(),
      });
    } else if (frame.type === FRAME.ERROR) {
      this.commands.delete(frame.id);
      command.reject(new Error(`the guest could not start the command: ${frame.payload.toString()}`));
    }
  }

  private fail(error: Error): void {
    if (this.closedBecause) return;
    this.closedBecause = error;
    for (const command of this.commands.values()) command.reject(error);
    this.commands.clear();
    for (const wake of this.readyWaiters.splice(0)) wake();
  }
}
