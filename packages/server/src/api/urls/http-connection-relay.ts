// Relays a client's HTTP/1.1 connection to one upstream connection at the byte level: each
// request's head is parsed and may be rewritten; bodies and responses pass through as they are,
// framed (http-framing.ts) but not re-encoded. Against Node's HTTP server and client in between,
// this leaves out building and re-serialising every message in both directions, which is most
// of what a relay costs.
//
// The router decides per request. Whatever it declines (and whatever the framer will not frame)
// goes to Node's HTTP server on the same socket: at once when nothing has been relayed yet,
// otherwise as soon as the upstream has answered every request it was sent. Answers thus reach
// the client in order, one per request, whichever side gives them: an upstream that sends more
// than it was asked for, or anything unframeable, loses the connection instead.
import type { Server as HttpServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { FramingError, RequestFramer, ResponseFramer, type RequestHead } from './http-framing.js';
import type { Target } from './http-forward.js';

/** Where a connection's requests go, decided by its first request. */
export interface Route {
  target: Target;
  /**
   * The head to send upstream for a request (the first one included), or undefined when the
   * request needs the HTTP server instead. A string goes out as latin1, one byte per character,
   * as heads are read (http-framing.ts), so bytes beyond ASCII pass through unchanged.
   */
  rewrite(head: RequestHead): Buffer | string | undefined;
  /**
   * Called with true when a request goes out while none was waiting for its answer, and with
   * false when every request sent has had its whole answer: an idle keep-alive connection is
   * not a use of the sandbox.
   */
  busy?(busy: boolean): void;
  /** Called once, when the relay ends. */
  done(): void;
}

/** The route for a connection's first request, or undefined to leave the connection to the HTTP server. */
export type Router = (head: RequestHead, client: Socket) => Route | undefined | Promise<Route | undefined>;

/** Gives a socket to the HTTP server, with bytes already read from it to be parsed first. */
export type HandOff = (client: Socket, bytes: Buffer) => void;

/** How long a new connection may take to send its first request head. */
const FIRST_HEAD_TIMEOUT_MS = 60_000;
/** How long connecting upstream may take before the HTTP server is left to try and explain. */
const CONNECT_TIMEOUT_MS = 10_000;

export class HttpConnectionRelay {
  /** Connections not (yet) given to the HTTP server, which the server's own close would not end. */
  private readonly open = new Set<Socket>();

  constructor(
    private readonly router: Router,
    private readonly handOff: HandOff,
  ) {}

  /** Takes a freshly accepted connection. */
  accept(client: Socket): void {
    this.open.add(client);
    new RelayedConnection(client, this.router, (socket, bytes) => {
      this.open.delete(socket);
      this.handOff(socket, bytes);
    }).start(() => this.open.delete(client));
  }

  /** Ends every connection the relay holds (the server is shutting down). */
  closeAll(): void {
    for (const socket of this.open) socket.destroy();
    this.open.clear();
  }
}

type State =
  | 'reading' // waiting for the first request head
  | 'routing' // the first request waits for the router and the upstream connection
  | 'relaying'
  | 'handing-off' // a request needs the HTTP server: waiting for the upstream's last answers
  | 'gone';

class RelayedConnection {
  private readonly requests = new RequestFramer();
  private readonly responses = new ResponseFramer();
  private upstream: Socket | undefined;
  private route: Route | undefined;
  private state: State = 'reading';
  /** What the HTTP server is to read first, once the connection is handed off. */
  private leftover: Buffer | undefined;
  private waitingForDrain = false;
  /** Whether a request sent upstream still waits for (the end of) its answer. */
  private busy = false;

  constructor(
    private readonly client: Socket,
    private readonly router: Router,
    private readonly handOff: HandOff,
  ) {}

  start(onClose: () => void): void {
    this.client.setTimeout(FIRST_HEAD_TIMEOUT_MS, () => this.client.destroy());
    this.client.on('data', this.onClientData);
    this.client.on('end', this.onClientEnd);
    this.client.on('close', this.onClientClose);
    this.client.once('close', onClose);
    this.client.on('error', () => {});
  }

  private readonly onClientData = (chunk: Buffer) => {
    this.requests.push(chunk);
    this.pumpRequests();
  };

  /** Moves what the client sent through to the upstream, until it runs dry or a request must wait. */
  private pumpRequests(): void {
    const upstream = this.upstream;
    upstream?.cork();
    try {
      while (this.state === 'reading' || this.state === 'relaying') {
        let event;
        try {
          event = this.requests.next();
        } catch (e) {
          if (!(e instanceof FramingError)) throw e;
          // A head it will not frame is the HTTP server's to answer; a broken body ends the connection.
          if (this.requests.atBoundary()) this.leave(this.requests.rest());
          else this.destroy();
          return;
        }
        if (!event) return;
        if (event.type === 'body') {
          if (!upstream!.write(event.data)) this.waitForUpstreamDrain();
          continue;
        }
        if (this.state === 'reading') return void this.routeFirst(event.head);
        const head = this.route!.rewrite(event.head);
        if (head === undefined) return this.leave(Buffer.concat([event.head.raw, this.requests.rest()]));
        this.expectAnswer(event.head.method);
        if (!upstream!.write(head, 'latin1')) this.waitForUpstreamDrain();
      }
    } finally {
      upstream?.uncork();
    }
  }

  private async routeFirst(head: RequestHead): Promise<void> {
    this.state = 'routing';
    this.client.pause();
    const unread = () => Buffer.concat([head.raw, this.requests.rest()]);
    const route = await Promise.resolve()
      .then(() => this.router(head, this.client))
      .catch(() => undefined);
    const rewritten = this.state === 'routing' ? route?.rewrite(head) : undefined;
    if (!route || rewritten === undefined) {
      route?.done();
      if (this.state === 'routing') this.leave(unread());
      return;
    }
    const upstream = await connected(route.target);
    if (this.state !== 'routing' || !upstream) {
      // Nothing answered: the HTTP server tries again and explains what it found.
      upstream?.destroy();
      route.done();
      if (this.state === 'routing') this.leave(unread());
      return;
    }
    this.route = route;
    this.upstream = upstream;
    this.client.setTimeout(0);
    // Nagle would hold small writes back for the peer's delayed ACK on a reused connection.
    upstream.setNoDelay(true);
    this.client.setNoDelay(true);
    upstream.on('data', this.onUpstreamData);
    upstream.on('end', this.onUpstreamEnd);
    upstream.on('close', this.onUpstreamEnd);
    upstream.on('error', () => this.destroy());
    this.expectAnswer(head.method);
    upstream.write(rewritten, 'latin1');
    this.state = 'relaying';
    this.client.resume();
    this.pumpRequests();
  }

  private expectAnswer(method: string): void {
    this.responses.expect(method);
    this.setBusy(true);
  }

  private setBusy(busy: boolean): void {
    if (busy === this.busy) return;
    this.busy = busy;
    this.route?.busy?.(busy);
  }

  private waitForUpstreamDrain(): void {
    if (this.waitingForDrain) return;
    this.waitingForDrain = true;
    this.client.pause();
    this.upstream!.once('drain', () => {
      this.waitingForDrain = false;
      if (this.state === 'relaying') this.client.resume();
    });
  }

  private readonly onUpstreamData = (chunk: Buffer) => {
    this.responses.push(chunk);
    this.client.cork();
    try {
      for (;;) {
        const event = this.responses.next();
        if (!event) break;
        const ok = this.client.write(event.type === 'head' ? event.head.raw : event.data);
        if (!ok && !this.upstream!.isPaused()) {
          this.upstream!.pause();
          this.client.once('drain', () => this.upstream?.resume());
        }
      }
    } catch (e) {
      if (!(e instanceof FramingError)) throw e;
      // The app answered with something that is not one response per request: nothing more of
      // this connection can be trusted to line up.
      this.client.uncork();
      return this.destroy();
    }
    this.client.uncork();
    if (!this.responses.settled()) return;
    this.setBusy(false);
    if (this.state === 'handing-off') this.giveAway();
  };

  /** Gives the connection to the HTTP server, starting with `bytes`, once the upstream has answered all it was sent. */
  private leave(bytes: Buffer): void {
    this.client.pause();
    this.client.removeListener('data', this.onClientData);
    this.leftover = bytes;
    this.state = 'handing-off';
    if (!this.upstream || this.responses.settled()) this.giveAway();
  }

  private giveAway(): void {
    this.finishRelay();
    this.state = 'gone';
    this.client.setTimeout(0);
    this.client.removeListener('end', this.onClientEnd);
    this.client.removeListener('close', this.onClientClose);
    this.handOff(this.client, this.leftover!);
  }

  private readonly onUpstreamEnd = () => {
    if (this.state !== 'relaying' && this.state !== 'handing-off') return;
    // The app closed the connection (a body read until close ends here): so does the client's
    // side, once what was written is out.
    this.finishRelay();
    this.state = 'gone';
    this.client.end();
  };

  private readonly onClientEnd = () => {
    if (this.state === 'relaying') this.upstream!.end();
    else if (this.state === 'reading') this.client.end();
  };

  private readonly onClientClose = () => this.destroy();

  private destroy(): void {
    this.state = 'gone';
    this.finishRelay();
    this.client.destroy();
  }

  private finishRelay(): void {
    const upstream = this.upstream;
    if (!upstream) return;
    this.upstream = undefined;
    upstream.removeListener('data', this.onUpstreamData);
    upstream.destroy();
    this.route!.done();
  }
}

/** A TCP connection to `target`, or undefined if it was refused, failed or took too long. */
function connected(target: Target): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect(target.port, target.host);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error('connect timed out')));
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/**
 * Puts a relay in front of an HTTP server: every connection it accepts is read by the relay
 * first, and those the router declines are given to the server with the bytes already read.
 * Node has no public way to hand an HTTP server a connection that has been read from; emitting
 * `connection` and then the bytes as `data` is how it takes one (the parser it attaches listens
 * for `data` until it can read the socket directly).
 */
export function relayInFrontOf(server: HttpServer, router: Router): HttpConnectionRelay {
  const httpConnection = server.listeners('connection') as Array<(socket: Socket) => void>;
  server.removeAllListeners('connection');
  const relay = new HttpConnectionRelay(router, (socket, bytes) => {
    for (const listener of httpConnection) listener.call(server, socket);
    if (bytes.length) socket.emit('data', bytes);
    socket.resume();
  });
  server.on('connection', (socket: Socket) => relay.accept(socket));
  return relay;
}
