// The guest end of a `vm` sandbox's channel, for unit tests of the host end: a unix socket that
// speaks the bridge's frames (image/vm/burrow-vm-bridge.c), scripted by each test.
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeFrame, FRAME, FrameDecoder, type Frame } from '../src/runtime/vm/frames.js';

/** The guest end, scripted by each test: every frame it received, and a way to answer. */
export class FakeBridge {
  readonly received: Frame[] = [];
  private socket: Socket | null = null;
  private readonly decoder = new FrameDecoder();

  private constructor(
    readonly server: Server,
    readonly path: string,
  ) {
    server.on('connection', (socket) => {
      this.socket = socket;
      socket.on('error', () => {}); // the host end may reset it: tests look at what was received
      socket.on('data', (chunk: Buffer) => this.received.push(...this.decoder.push(chunk)));
    });
  }

  static async start(dir: string): Promise<FakeBridge> {
    const path = join(dir, 'agent.sock');
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return new FakeBridge(server, path);
  }

  send(type: number, id: number, payload: Buffer = Buffer.alloc(0)): void {
    this.socket!.write(encodeFrame(type, id, payload));
  }

  exit(id: number, code: number, signal = 0): void {
    const payload = Buffer.alloc(8);
    payload.writeInt32LE(code, 0);
    payload.writeInt32LE(signal, 4);
    this.send(FRAME.EXIT, id, payload);
  }

  u32(type: number, id: number, value: number): void {
    const payload = Buffer.alloc(4);
    payload.writeUInt32LE(value, 0);
    this.send(type, id, payload);
  }

  framesOf(type: number): Frame[] {
    return this.received.filter((f) => f.type === type);
  }

  stdinBytes(): Buffer {
    return Buffer.concat(this.framesOf(FRAME.STDIN).map((f) => f.payload));
  }

  outputAcked(): [number, number] {
    return this.framesOf(FRAME.OUTPUT_ACK).reduce<[number, number]>((sum, f) => [sum[0] + f.payload.readUInt32LE(0), sum[1] + f.payload.readUInt32LE(4)], [0, 0]);
  }

  drop(): void {
    this.socket?.destroy();
  }

  async close(): Promise<void> {
    this.socket?.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
