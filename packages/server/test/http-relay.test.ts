// The byte-level HTTP relay in one layer: the framers on hand-made bytes, and the relay between
// real sockets on the host, with a scripted upstream in place of a sandbox's app and a Node
// HTTP server behind it for what the relay hands back. Sandboxes: test/integration/urls.test.ts.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { relayInFrontOf, type Route } from '../src/api/urls/http-connection-relay.js';
import { FramingError, RequestFramer, ResponseFramer, values, type FramerEvent } from '../src/api/urls/http-framing.js';

/** Feeds `bytes` one piece at a time (every split point matters) and collects what comes out. */
function frame<H>(framer: { push(b: Buffer): void; next(): FramerEvent<H> | undefined }, bytes: string, piece = 1) {
  const heads: H[] = [];
  let body = '';
  for (let i = 0; i < bytes.length; i += piece) {
    framer.push(Buffer.from(bytes.slice(i, i + piece), 'latin1'));
    for (let e = framer.next(); e; e = framer.next()) {
      if (e.type === 'head') heads.push(e.head);
      else body += e.data.toString('latin1');
    }
  }
  return { heads, body };
}

describe('the request framer', () => {
  it('splits pipelined requests with length and chunked bodies, whatever the pieces', () => {
    const wire =
      '\r\nPOST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      'PUT /b?q=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 1\r\n\r\n' +
      'GET /c HTTP/1.1\r\nhost:   y  \r\n\r\n';
    for (const piece of [1, 7, wire.length]) {
      const framer = new RequestFramer();
      const { heads, body } = frame(framer, wire, piece);
      expect(heads.map((h) => `${h.method} ${h.target}`)).toEqual(['POST /a', 'PUT /b?q=1', 'GET /c']);
      expect(values(heads[2]!, 'host')).toEqual(['y']);
      expect(body).toBe('hello3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Sum: 1\r\n\r\n');
      expect(framer.atBoundary()).toBe(true);
    }
  });

  it.each([
    ['HTTP/1.0', 'GET / HTTP/1.0\r\nHost: x\r\n\r\n'],
    ['both lengths', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['a coding other than chunked', 'POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'],
    ['differing lengths', 'POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'],
    ['a folded line', 'GET / HTTP/1.1\r\nX-A: 1\r\n 2\r\n\r\n'],
    ['a bare LF in a value', 'GET / HTTP/1.1\r\nX-A: 1\nAuthorization: x\r\n\r\n'],
    ['a space before the colon', 'GET / HTTP/1.1\r\nHost : x\r\n\r\n'],
  ])('will not frame a request with %s, and leaves its bytes unconsumed', (_what, wire) => {
    const framer = new RequestFramer();
    framer.push(Buffer.from(wire, 'latin1'));
    expect(() => framer.next()).toThrow(FramingError);
    expect(framer.rest().toString('latin1')).toBe(wire);
  });

  it('stops at a chunk whose data is not followed by CRLF', () => {
    const framer = new RequestFramer();
    framer.push(Buffer.from('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n'));
    expect(framer.next()?.type).toBe('head');
    expect(framer.next()?.type).toBe('body');
    expect(() => framer.next()).toThrow(FramingError);
  });

  it('frames a large head that arrives a byte at a time, then what follows it', () => {
    const big = `GET /big HTTP/1.1\r\nHost: x\r\nX-Pad: ${'p'.repeat(30_000)}\r\nContent-Length: 3\r\n\r\nabc`;
    const framer = new RequestFramer();
    const { heads, body } = frame(framer, big + 'GET /next HTTP/1.1\r\n\r\n', 1);
    expect(heads.map((h) => h.target)).toEqual(['/big', '/next']);
    expect(values(heads[0]!, 'x-pad')[0]).toHaveLength(30_000);
    expect(body).toBe('abc');
  });

  it('refuses a head that outgrows the limit before it ends', () => {
    const framer = new RequestFramer();
    framer.push(Buffer.from(`GET / HTTP/1.1\r\nX-Big: ${'a'.repeat(40_000)}`));
    expect(() => framer.next()).toThrow(/too large/);
  });
});

describe('the response framer', () => {
  it('knows which responses have bodies: HEAD, 1xx, 204 and 304 have none', () => {
    const framer = new ResponseFramer();
    for (const m of ['HEAD', 'GET', 'GET', 'GET']) framer.expect(m);
    const { heads, body } = frame(
      framer,
      'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' +
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok' +
        'HTTP/1.1 204 No Content\r\n\r\n' +
        'HTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n',
      5,
    );
    expect(heads.map((h) => h.status)).toEqual([200, 100, 103, 200, 204, 304]);
    expect(body).toBe('ok');
    expect(framer.settled()).toBe(true);
  });

  it('reads a body without a length until the connection closes', () => {
    const framer = new ResponseFramer();
    framer.expect('GET');
    const { body } = frame(framer, 'HTTP/1.1 200 OK\r\n\r\nall of it, HTTP/1.1 200 OK\r\n\r\n', 9);
    expect(body).toBe('all of it, HTTP/1.1 200 OK\r\n\r\n');
    expect(framer.settled()).toBe(false);
  });

  it('refuses a response nobody asked for, and a protocol switch', () => {
    const extra = new ResponseFramer();
    extra.expect('GET');
    extra.push(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'));
    expect(extra.next()?.type).toBe('head');
    expect(() => extra.next()).toThrow(/nobody asked/);
    const switching = new ResponseFramer();
    switching.expect('GET');
    switching.push(Buffer.from('HTTP/1.1 101 Switching Protocols\r\n\r\n'));
    expect(() => switching.next()).toThrow(/protocol switch/);
  });
});

// ---- the relay between real sockets -------------------------------------------------------

const closers: Array<() => void> = [];
afterEach(() => {
  for (const close of closers.splice(0)) close();
});

function listening<S extends Server | HttpServer>(server: S): Promise<number> {
  closers.push(() => {
    server.close();
    if ('closeAllConnections' in server) server.closeAllConnections();
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/**
 * An upstream that answers each request head it reads with `answer(head)`, and records what
 * it received. It frames requests itself, so it sees exactly what the relay sent.
 */
async function upstream(answer: (head: string) => string): Promise<{ port: number; received: string[] }> {
  const received: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const framer = new RequestFramer();
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk);
      for (let e = framer.next(); e; e = framer.next()) {
        if (e.type === 'head') {
          received.push(e.head.raw.toString('latin1'));
          socket.write(answer(e.head.raw.toString('latin1')));
        } else received[received.length - 1] += e.data.toString('latin1');
      }
    });
    socket.on('error', () => {});
  });
  closers.push(() => sockets.forEach((s) => s.destroy()));
  return { port: await listening(server), received };
}

/**
 * The relay in front of a Node HTTP server that answers `fallback <method> <url> <body>`.
 * Requests with `X-Route: no` are declined by the route, so they reach that server.
 */
async function relayTo(target: number, onDone = () => {}, onBusy?: (busy: boolean) => void): Promise<number> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => res.end(`fallback ${req.method} ${req.url} ${body}`));
  });
  const route = (): Route => ({
    target: { host: '127.0.0.1', port: target },
    rewrite: (head) => {
      if (values(head, 'x-route')[0] === 'no') return undefined;
      const kept = head.headers.filter(([k]) => k.toLowerCase() !== 'authorization');
      return `${head.method} ${head.target} HTTP/1.1\r\n${kept.map(([k, v]) => `${k}: ${v}\r\n`).join('')}X-Relayed: yes\r\n\r\n`;
    },
    busy: onBusy,
    done: onDone,
  });
  relayInFrontOf(server, (head) => (values(head, 'host')[0] === 'api' ? undefined : route()));
  return listening(server);
}

/** Writes `wire` on one connection and returns everything read until the other side closes or `until` matches. */
function exchange(port: number, wire: string[], until?: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    const finish = () => {
      socket.destroy();
      resolve(text);
    };
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
      if (until?.test(text)) finish();
    });
    socket.on('close', finish);
    socket.on('error', reject);
    socket.once('connect', async () => {
      for (const piece of wire) {
        socket.write(piece, 'latin1');
        await new Promise((r) => setTimeout(r, 20));
      }
    });
  });
}

const ok = (text: string) => `HTTP/1.1 200 OK\r\nContent-Length: ${text.length}\r\n\r\n${text}`;

describe('the byte-level relay', () => {
  it('relays pipelined requests with rewritten heads (bytes beyond ASCII kept) and untouched bodies, answers in order', async () => {
    const app = await upstream((head) => ok(`you sent ${head.split(' ')[1]}`));
    const relay = await relayTo(app.port);
    const wire =
      'POST /one HTTP/1.1\r\nHost: s\r\nAuthorization: Bearer secret\r\nX-Name: caf\xe9\r\nContent-Length: 4\r\n\r\nbody' +
      'POST /two HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n' +
      'GET /three HTTP/1.1\r\nHost: s\r\n\r\n';
    const answers = await exchange(relay, [wire.slice(0, 50), wire.slice(50)], /you sent \/three/);
    expect(answers.match(/you sent \/[a-z]+/g)).toEqual(['you sent /one', 'you sent /two', 'you sent /three']);
    expect(app.received).toEqual([
      'POST /one HTTP/1.1\r\nHost: s\r\nX-Name: caf\xe9\r\nContent-Length: 4\r\nX-Relayed: yes\r\n\r\nbody',
      'POST /two HTTP/1.1\r\nHost: s\r\nTransfer-Encoding: chunked\r\nX-Relayed: yes\r\n\r\n2\r\nhi\r\n0\r\n\r\n',
      'GET /three HTTP/1.1\r\nHost: s\r\nX-Relayed: yes\r\n\r\n',
    ]);
  });

  it('hands a declined request to the HTTP server once the upstream has answered the ones before it', async () => {
    // The upstream answers slowly: the fallback's answer must still come second.
    const app = await upstream(() => '');
    const slow = createServer((socket) => {
      socket.once('data', () => setTimeout(() => socket.write(ok('from the app')), 200));
    });
    const slowPort = await listening(slow);
    const relay = await relayTo(slowPort);
    const answers = await exchange(
      relay,
      ['GET /a HTTP/1.1\r\nHost: s\r\n\r\nPOST /b HTTP/1.1\r\nHost: s\r\nX-Route: no\r\nContent-Length: 3\r\n\r\nabc'],
      /fallback POST \/b abc/,
    );
    expect(answers.indexOf('from the app')).toBeGreaterThan(0);
    expect(answers.indexOf('from the app')).toBeLessThan(answers.indexOf('fallback POST /b abc'));
    expect(app.received).toEqual([]);
  });

  it('leaves a connection whose first request it declines to the HTTP server, body and all', async () => {
    const app = await upstream(() => ok('app'));
    const relay = await relayTo(app.port);
    const answers = await exchange(relay, ['PUT /x HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\n\r\nhe', 'llo'], /fallback PUT \/x hello/);
    expect(answers).toContain('fallback PUT /x hello');
    expect(app.received).toEqual([]);
  });

  it('hands over a request it will not frame, and one for a target that refuses connections', async () => {
    const app = await upstream(() => ok('app'));
    const relay = await relayTo(app.port);
    const answers = await exchange(relay, ['GET /old HTTP/1.0\r\nHost: s\r\n\r\n'], /fallback/);
    expect(answers).toContain('fallback GET /old');
    const refusing = createServer();
    const closedPort = await listening(refusing);
    refusing.close();
    const unreachable = await relayTo(closedPort);
    expect(await exchange(unreachable, ['GET /gone HTTP/1.1\r\nHost: s\r\n\r\n'], /fallback/)).toContain('fallback GET /gone');
  });

  it('drops the connection when the upstream answers more than it was asked, passing nothing extra on', async () => {
    let done = 0;
    const app = await upstream(() => ok('real') + ok('forged'));
    const relay = await relayTo(app.port, () => done++);
    const answers = await exchange(relay, ['GET / HTTP/1.1\r\nHost: s\r\n\r\n', 'GET /api HTTP/1.1\r\nHost: api\r\n\r\n']);
    expect(answers).toContain('real');
    expect(answers).not.toContain('forged');
    expect(answers).not.toContain('fallback');
    expect(done).toBe(1);
  });

  it('reports the connection busy from a request until its whole answer, and idle between', async () => {
    const slow = createServer((socket) => {
      socket.on('data', () => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nha');
        setTimeout(() => socket.write('lf'), 100);
      });
    });
    const seen: string[] = [];
    const relay = await relayTo(await listening(slow), () => seen.push('done'), (busy) => seen.push(busy ? 'busy' : 'idle'));
    const socket = connect(relay, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString()));
    const answered = (n: number) => expect.poll(() => text.split('half').length - 1).toBe(n);
    socket.write('GET /1 HTTP/1.1\r\nHost: s\r\n\r\n');
    await answered(1);
    expect(seen).toEqual(['busy', 'idle']);
    socket.write('GET /2 HTTP/1.1\r\nHost: s\r\n\r\n');
    await answered(2);
    socket.destroy();
    await expect.poll(() => seen).toEqual(['busy', 'idle', 'busy', 'idle', 'done']);
  });

  it('passes a body that runs until close, then closes the client side too', async () => {
    const app = createServer((socket) => socket.once('data', () => socket.end('HTTP/1.1 200 OK\r\n\r\nuntil the end')));
    const relay = await relayTo(await listening(app));
    expect(await exchange(relay, ['GET / HTTP/1.1\r\nHost: s\r\n\r\n'])).toMatch(/\r\n\r\nuntil the end$/);
  });
});
