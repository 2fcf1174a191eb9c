// Host sockets offered inside a `vm` guest (the in-sandbox API): the bridge listens at a path
// the host chose, and each connection a program makes there is relayed over the channel to a new
// connection to the host's socket. The guest names a socket only by the id the host gave it and
// this side checks against its own list: nothing the guest sends becomes a host path.
//
// Memory is bounded as for commands: each direction of a connection has CONN_WINDOW bytes of
// credit, at most MAX_CONNECTIONS are open, and a guest that sends past its credit or reuses a
// live id loses its channel (the caller catches what dispatch throws).
import { connect, type Socket } from 'node:net';
import { FRAME, type Frame } from './frames.js';

/** Bytes per direction of a connection in flight, unacknowledged; as in the bridge. */
export const CONN_WINDOW = 256 * 1024;
/** The largest CONN_DATA frame the host sends. */
const CONN_FRAME = 64 * 1024;
/** Connections open at once through one channel; as in the bridge. */
export const MAX_CONNECTIONS = 64;

/** A host socket and where the guest finds it. */
export interface OfferedSocket {
  /** Chosen by the host; what the guest's OPEN names. */
  id: number;
  guestPath: string;
  hostPath: string;
  /** The guest socket's permission bits, as the host socket's. */
  mode: number;
}

type Send = (type: number, id: number, payload?: Uint8Array) => void;

const u32 = (value: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value, 0);
  return b;
};

/** One relayed connection: the host end, and the credits of both directions. */
class RelayedConnection {
  readonly socket: Socket;
  /** What the guest may still be sent. */
  private credit = CONN_WINDOW;
  /** A chunk read from the host socket that waits for credit (the socket is paused meanwhile). */
  private pending: Buffer | null = null;
  /** Bytes from the guest written to the socket but still in its buffer: acknowledged on drain. */
  private unacked = 0;
  private guestGone = false;
  /**
   * How the host socket ended, told to the guest only once every byte read before has been
   * sent: the bridge takes nothing for a connection after its end. Node may end a paused socket
   * while its last bytes still wait here for credit.
   */
  private hostEnded: 'no' | 'ended' | 'told' = 'no';
  private hostClosed: 'no' | 'closed' | 'told' = 'no';

  constructor(
    private readonly id: number,
    hostPath: string,
    private readonly send: Send,
    private readonly forget: () => void,
  ) {
    this.socket = connect({ path: hostPath, allowHalfOpen: true });
    this.socket.on('data', (chunk: Buffer) => {
      this.pending = this.pending ? Buffer.concat([this.pending, chunk]) : chunk;
      this.pump();
    });
    this.socket.on('end', () => {
      this.hostEnded = 'ended';
      this.pump();
    });
    this.socket.on('drain', () => {
      if (!this.unacked) return;
      this.send(FRAME.HOST_CONN_ACK, id, u32(this.unacked));
      this.unacked = 0;
    });
    this.socket.on('error', () => {}); // 'close' follows, and says it to the guest
    this.socket.on('close', () => {
      this.hostClosed = 'closed';
      this.pump();
    });
  }

  fromGuest(data: Buffer): void {
    if (this.socket.destroyed) return;
    if (this.unacked + data.length > CONN_WINDOW) throw new Error(`the guest sent connection ${this.id} more than the ${CONN_WINDOW} bytes it was credited`);
    if (this.socket.write(data)) this.send(FRAME.HOST_CONN_ACK, this.id, u32(data.length));
    else this.unacked += data.length;
  }

  credited(bytes: number): void {
    this.credit = Math.min(CONN_WINDOW, this.credit + bytes);
    this.pump();
  }

  guestEnded(): void {
    this.socket.end();
  }

  /** The guest's end is gone: so is this one, and nothing more is said about it. */
  guestClosed(): void {
    this.guestGone = true;
    this.socket.destroy();
  }

  /** Sends what the guest has credit for, then the host socket's end and close once all is sent. */
  private pump(): void {
    if (this.guestGone) this.pending = null;
    while (this.pending && this.credit > 0) {
      const size = Math.min(this.pending.length, this.credit, CONN_FRAME);
      this.send(FRAME.HOST_CONN_DATA, this.id, this.pending.subarray(0, size));
      this.credit -= size;
      this.pending = size < this.pending.length ? this.pending.subarray(size) : null;
    }
    if (this.pending) return void this.socket.pause();
    if (this.hostClosed === 'no') this.socket.resume();
    if (this.hostEnded === 'ended') {
      this.hostEnded = 'told';
      if (!this.guestGone) this.send(FRAME.HOST_CONN_EOF, this.id);
    }
    if (this.hostClosed === 'closed') {
      this.hostClosed = 'told';
      this.forget();
      if (!this.guestGone) this.send(FRAME.HOST_CONN_CLOSE, this.id);
    }
  }
}

export class SocketRelay {
  private readonly offered = new Map<number, OfferedSocket>();
  private readonly connections = new Map<number, RelayedConnection>();

  constructor(private readonly send: Send) {}

  /** Tells the bridge to listen for `sockets` (again, after a new host connected: it keeps offers it has). */
  offer(sockets: readonly OfferedSocket[]): void {
    for (const socket of sockets) {
      if (socket.guestPath.includes('\0') || !socket.guestPath.startsWith('/')) throw new Error(`${socket.guestPath} is no path in the guest`);
      this.offered.set(socket.id, socket);
      this.send(FRAME.OFFER, socket.id, Buffer.concat([u32(socket.mode & 0o777), Buffer.from(socket.guestPath)]));
    }
  }

  /** Serves a connection frame; false if `frame` is none. Throws if the guest broke the protocol. */
  dispatch(frame: Frame): boolean {
    const connection = this.connections.get(frame.id);
    switch (frame.type) {
      case FRAME.OPEN:
        this.open(frame);
        return true;
      case FRAME.CONN_DATA:
        connection?.fromGuest(frame.payload);
        return true;
      case FRAME.CONN_EOF:
        connection?.guestEnded();
        return true;
      case FRAME.CONN_ACK:
        if (frame.payload.length !== 4) throw new Error('the guest sent a malformed acknowledgement');
        connection?.credited(frame.payload.readUInt32LE(0));
        return true;
      case FRAME.CONN_CLOSE:
        this.connections.delete(frame.id);
        connection?.guestClosed();
        return true;
      default:
        return false;
    }
  }

  /** The channel is gone: so are its connections. */
  closeAll(): void {
    const connections = [...this.connections.values()];
    this.connections.clear();
    for (const connection of connections) connection.guestClosed();
  }

  private open(frame: Frame): void {
    if (this.connections.has(frame.id)) throw new Error(`the guest opened connection ${frame.id} twice`);
    const socket = frame.payload.length === 4 ? this.offered.get(frame.payload.readUInt32LE(0)) : undefined;
    // A socket never offered, or too many at once: the guest's connection is closed.
    if (!socket || this.connections.size >= MAX_CONNECTIONS) return this.send(FRAME.HOST_CONN_CLOSE, frame.id);
    const connection = new RelayedConnection(frame.id, socket.hostPath, this.send, () => {
      if (this.connections.get(frame.id) === connection) this.connections.delete(frame.id);
    });
    this.connections.set(frame.id, connection);
  }
}
