// Host sockets offered in a vm guest, host side: the relay of GuestChannel against a fake bridge,
// with real unix sockets standing for the in-sandbox API. The real bridge is tested under TCG in
// test/integration/vm-sandbox.test.ts.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FRAME } from '../src/runtime/vm/frames.js';
import { GuestChannel } from '../src/runtime/vm/guest-channel.js';
import { CONN_WINDOW, type OfferedSocket } from '../src/runtime/vm/guest-sockets.js';
import { OFFERED_SOCKETS_FILE, VmRuntime } from '../src/runtime/vm-runtime.js';
import { until } from '../../../test/support/until.js';
import { FakeBridge } from './fake-bridge.js';

const soon = <T>(read: () => T) => until(read.toString(), read, { intervalMs: 5, timeoutMs: 5_000 });

/** A host socket standing for the in-sandbox API: every connection it accepted. */
class HostSocket {
  readonly accepted: Socket[] = [];
  private constructor(readonly server: Server, readonly path: string) {
    server.on('connection', (s) => {
      s.on('error', () => {}); // a relayed connection may be reset: what the tests look at is 'close'
      this.accepted.push(s);
    });
  }

  static async listen(path: string): Promise<HostSocket> {
    const server = createServer({ allowHalfOpen: true });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return new HostSocket(server, path);
  }

  async close(): Promise<void> {
    for (const s of this.accepted) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

describe('host sockets offered in a vm guest, host side', () => {
  let dir: string;
  let bridge: FakeBridge;
  let channel: GuestChannel;
  let api: HostSocket;
  let other: HostSocket;
  let offered: OfferedSocket[];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'burrow-vm-sockets-'));
    bridge = await FakeBridge.start(dir);
    api = await HostSocket.listen(join(dir, 'api.sock'));
    other = await HostSocket.listen(join(dir, 'other.sock'));
    offered = [
      { id: 1, guestPath: '/.burrow/api/other.sock', hostPath: other.path, mode: 0o600 },
      { id: 2, guestPath: '/.burrow/api/api.sock', hostPath: api.path, mode: 0o666 },
      { id: 3, guestPath: '/.burrow/api/gone.sock', hostPath: join(dir, 'gone.sock'), mode: 0o666 },
    ];
    channel = await GuestChannel.connect(bridge.path, 5_000);
    channel.offer(offered);
  });

  afterEach(async () => {
    channel.close();
    await bridge.close();
    await api.close();
    await other.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** What the host sent for connection `id`, by frame type. */
  const toGuest = (type: number, id: number) => bridge.framesOf(type).filter((f) => f.id === id);
  const bytesToGuest = (id: number) => Buffer.concat(toGuest(FRAME.HOST_CONN_DATA, id).map((f) => f.payload));
  const ackedToGuest = (id: number) => toGuest(FRAME.HOST_CONN_ACK, id).reduce((sum, f) => sum + f.payload.readUInt32LE(0), 0);

  it('offers each socket by its guest path and mode, and an OPEN connects to the host socket of that id', async () => {
    await soon(() => bridge.framesOf(FRAME.OFFER).length === 3);
    const offers = bridge.framesOf(FRAME.OFFER).map((f) => ({ id: f.id, mode: f.payload.readUInt32LE(0), path: f.payload.subarray(4).toString() }));
    expect(offers).toEqual([
      { id: 1, mode: 0o600, path: '/.burrow/api/other.sock' },
      { id: 2, mode: 0o666, path: '/.burrow/api/api.sock' },
      { id: 3, mode: 0o666, path: '/.burrow/api/gone.sock' },
    ]);
    bridge.u32(FRAME.OPEN, 7, 2);
    await soon(() => api.accepted.length === 1);
    expect(other.accepted).toHaveLength(0);
    bridge.send(FRAME.CONN_DATA, 7, Buffer.from('GET / HTTP/1.0\r\n\r\n'));
    const request = await new Promise<Buffer>((resolve) => api.accepted[0]!.once('data', resolve));
    expect(request.toString()).toBe('GET / HTTP/1.0\r\n\r\n');
    api.accepted[0]!.write('HTTP/1.0 200 OK\r\n\r\n');
    await soon(() => bytesToGuest(7).toString() === 'HTTP/1.0 200 OK\r\n\r\n');
  });

  it('refuses an OPEN naming a socket it never offered, and connects nowhere', async () => {
    bridge.u32(FRAME.OPEN, 9, 4);
    bridge.send(FRAME.OPEN, 10, Buffer.from('/run/elsewhere.sock'));
    await soon(() => toGuest(FRAME.HOST_CONN_CLOSE, 9).length === 1 && toGuest(FRAME.HOST_CONN_CLOSE, 10).length === 1);
    expect(api.accepted.length + other.accepted.length).toBe(0);
    // The channel serves on.
    bridge.u32(FRAME.OPEN, 11, 1);
    await soon(() => other.accepted.length === 1);
  });

  it('closes the guest connection when the host socket refuses it', async () => {
    bridge.u32(FRAME.OPEN, 5, 3);
    await soon(() => toGuest(FRAME.HOST_CONN_CLOSE, 5).length === 1);
    expect(toGuest(FRAME.HOST_CONN_DATA, 5)).toHaveLength(0);
  });

  it('relays the guest\'s bytes within its credit, and acknowledges them only as the host socket takes them', async () => {
    bridge.u32(FRAME.OPEN, 1, 2);
    await soon(() => api.accepted.length === 1);
    const server = api.accepted[0]!;
    server.pause();
    const total = 8 * CONN_WINDOW;
    const chunk = Buffer.alloc(64 * 1024, 'g');
    let sent = 0;
    /** Sends as much as the host has credited, as the bridge does. */
    const pump = () => {
      while (sent < total && sent - ackedToGuest(1) + chunk.length <= CONN_WINDOW) {
        bridge.send(FRAME.CONN_DATA, 1, chunk);
        sent += chunk.length;
      }
      return sent;
    };
    // The paused reader stops the acknowledgements, so the guest stops: never more than its window in flight.
    await soon(() => pump() === sent && sent - ackedToGuest(1) === CONN_WINDOW);
    const stalledAt = sent;
    expect(stalledAt).toBeLessThan(total);
    let received = 0;
    server.on('data', (b: Buffer) => (received += b.length));
    server.resume();
    await soon(() => pump() === total && received === total && ackedToGuest(1) === total);
  });

  it('sends the host socket\'s bytes only as the guest acknowledges them', async () => {
    bridge.u32(FRAME.OPEN, 1, 2);
    await soon(() => api.accepted.length === 1);
    const total = 4 * CONN_WINDOW;
    const answer = Buffer.alloc(total);
    for (let i = 0; i < total; i++) answer[i] = i % 251;
    api.accepted[0]!.end(answer);
    // Unacknowledged, the host stops at the guest's window, and the end waits behind the bytes.
    await soon(() => bytesToGuest(1).length === CONN_WINDOW);
    expect(toGuest(FRAME.HOST_CONN_EOF, 1)).toHaveLength(0);
    for (let acked = CONN_WINDOW; acked < total; acked += CONN_WINDOW) {
      bridge.u32(FRAME.CONN_ACK, 1, CONN_WINDOW);
      await soon(() => bytesToGuest(1).length === acked + CONN_WINDOW);
    }
    await soon(() => toGuest(FRAME.HOST_CONN_EOF, 1).length === 1);
    expect(bytesToGuest(1).equals(answer)).toBe(true);
    expect(toGuest(FRAME.HOST_CONN_DATA, 1).every((f) => f.payload.length <= 64 * 1024)).toBe(true);
  });

  it('says the host socket ended only after its last bytes, though they arrived while it waited for credit', async () => {
    bridge.u32(FRAME.OPEN, 4, 2);
    await soon(() => api.accepted.length === 1);
    const server = api.accepted[0]!;
    server.resume();
    server.write(Buffer.alloc(CONN_WINDOW + 100, 1));
    await soon(() => bytesToGuest(4).length === CONN_WINDOW);
    // The last bytes and the end reach the paused host socket together, behind 100 waiting bytes.
    server.end(Buffer.alloc(100, 2));
    await new Promise((r) => setTimeout(r, 100));
    bridge.u32(FRAME.CONN_ACK, 4, 100);
    await soon(() => bytesToGuest(4).length === CONN_WINDOW + 100);
    bridge.u32(FRAME.CONN_ACK, 4, 100);
    await soon(() => toGuest(FRAME.HOST_CONN_EOF, 4).length === 1);
    const lastData = toGuest(FRAME.HOST_CONN_DATA, 4).at(-1)!;
    expect(bridge.received.indexOf(lastData)).toBeLessThan(bridge.received.indexOf(toGuest(FRAME.HOST_CONN_EOF, 4)[0]!));
    expect(bytesToGuest(4).equals(Buffer.concat([Buffer.alloc(CONN_WINDOW + 100, 1), Buffer.alloc(100, 2)]))).toBe(true);
  });

  it('half-closes either way, and ends the connection once both ends are done', async () => {
    bridge.u32(FRAME.OPEN, 3, 2);
    await soon(() => api.accepted.length === 1);
    const server = api.accepted[0]!;
    const ended = new Promise((resolve) => server.once('end', resolve));
    server.resume();
    bridge.send(FRAME.CONN_DATA, 3, Buffer.from('question'));
    bridge.send(FRAME.CONN_EOF, 3);
    await ended;
    server.end('answer');
    await soon(() => toGuest(FRAME.HOST_CONN_CLOSE, 3).length === 1);
    expect(bytesToGuest(3).toString()).toBe('answer');
    const [eof, close] = [toGuest(FRAME.HOST_CONN_EOF, 3)[0]!, toGuest(FRAME.HOST_CONN_CLOSE, 3)[0]!];
    expect(bridge.received.indexOf(eof)).toBeLessThan(bridge.received.indexOf(close));
  });

  it('closes the host connection when the guest closes its end, and the guest\'s when the host socket goes', async () => {
    bridge.u32(FRAME.OPEN, 1, 2);
    bridge.u32(FRAME.OPEN, 2, 2);
    await soon(() => api.accepted.length === 2);
    const [first, second] = api.accepted as [Socket, Socket];
    const firstEnded = new Promise((resolve) => first.once('end', resolve));
    first.resume();
    bridge.send(FRAME.CONN_CLOSE, 1);
    await firstEnded;
    // The host socket going is an end of file for the guest, which then closes its end.
    second.destroy();
    await soon(() => toGuest(FRAME.HOST_CONN_EOF, 2).length === 1);
    bridge.send(FRAME.CONN_EOF, 2);
    await soon(() => toGuest(FRAME.HOST_CONN_CLOSE, 2).length === 1);
    // The guest's own close is not echoed back.
    expect(toGuest(FRAME.HOST_CONN_CLOSE, 1)).toHaveLength(0);
  });

  it('drops the channel of a guest that sends past its credit, and its host connections with it', async () => {
    bridge.u32(FRAME.OPEN, 1, 2);
    await soon(() => api.accepted.length === 1);
    const server = api.accepted[0]!;
    server.pause();
    const serverEnded = new Promise((resolve) => server.once('end', resolve));
    for (let i = 0; i < 64; i++) bridge.send(FRAME.CONN_DATA, 1, Buffer.alloc(64 * 1024));
    expect((await channel.closed).message).toMatch(/more than the \d+ bytes it was credited/);
    server.resume();
    await serverEnded;
  });

  it('drops the channel of a guest that opens a connection id twice', async () => {
    bridge.u32(FRAME.OPEN, 4, 2);
    bridge.u32(FRAME.OPEN, 4, 1);
    expect((await channel.closed).message).toMatch(/opened connection 4 twice/);
  });

  it('offers a machine\'s saved sockets again on every new connection to its guest (a new daemon, a lost channel)', async () => {
    // The runtime finds a guest's socket at <root>/<id>/agent.sock, and what it offered at boot beside it.
    const runtime = new VmRuntime({ root: dir, host: () => Promise.reject(new Error('this test boots nothing')) });
    await mkdir(join(dir, 'guest'));
    await writeFile(join(dir, 'guest', OFFERED_SOCKETS_FILE), JSON.stringify([offered[1]]));
    const guest = await FakeBridge.start(join(dir, 'guest'));
    try {
      const command = runtime.exec('guest', { args: ['/bin/true'], env: [], cwd: '/', uid: 0, gid: 0 });
      const lost = new Promise((resolve) => command.once('error', resolve));
      await soon(() => guest.framesOf(FRAME.OFFER).length === 1);
      expect(guest.framesOf(FRAME.OFFER)[0]!.id).toBe(2);
      guest.u32(FRAME.OPEN, 1, 2);
      await soon(() => api.accepted.length === 1);
      // The channel lost, its relayed connections end with it.
      const relayedEnded = new Promise((resolve) => api.accepted[0]!.resume().once('end', resolve));
      guest.drop();
      await lost;
      await relayedEnded;
      runtime.exec('guest', { args: ['/bin/true'], env: [], cwd: '/', uid: 0, gid: 0 }).on('error', () => {});
      await soon(() => guest.framesOf(FRAME.OFFER).length === 2);
    } finally {
      runtime.close();
      await guest.close();
    }
  });
});
