// The frames of the channel between the host and a `vm` guest's bridge: their types and their
// encoding, `type (u8) | id (u32 LE) | payload length (u32 LE) | payload`. What each frame says
// is documented in the bridge's source (image/vm/burrow-vm-bridge.c).

export const FRAME = {
  EXEC: 1,
  STDIN: 2,
  STDIN_EOF: 3,
  KILL: 4,
  OUTPUT_ACK: 5,
  HELLO: 6,
  READY: 10,
  STDOUT: 11,
  STDERR: 12,
  EXIT: 13,
  ERROR: 14,
  STDIN_ACK: 15,
  STARTED: 16,
  // Relayed connections to offered host sockets (guest-sockets.ts), host -> guest ...
  OFFER: 20,
  HOST_CONN_DATA: 21,
  HOST_CONN_EOF: 22,
  HOST_CONN_ACK: 23,
  HOST_CONN_CLOSE: 24,
  // ... and guest -> host.
  OPEN: 30,
  CONN_DATA: 31,
  CONN_EOF: 32,
  CONN_ACK: 33,
  CONN_CLOSE: 34,
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
