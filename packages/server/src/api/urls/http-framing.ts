// Finds where each HTTP/1.1 message on a connection begins and ends, without buffering bodies:
// heads are parsed, body bytes are passed on untouched (a chunked body with its framing). The
// byte-level URL relay (http-connection-relay.ts) uses it both ways: to rewrite each request's
// head, and to know that the server inside sent exactly one answer per request, no more.
//
// It accepts less than a full HTTP implementation does, on purpose: anything unusual (HTTP/1.0
// requests, a transfer coding other than plain chunked, both Content-Length and
// Transfer-Encoding, bare CR or LF, folded lines) is a FramingError. The relay then hands the
// request to Node's HTTP server, which answers it properly, or drops a connection whose server
// misbehaves. Where two readings of a message might differ, the strict one wins, so the relay
// never disagrees with the server inside about where a message ends.

/** A message's head. Header names keep their case; values are trimmed. */
interface Head {
  headers: Array<[name: string, value: string]>;
  /** The head exactly as it arrived, through the blank line. */
  raw: Buffer;
}

export interface RequestHead extends Head {
  method: string;
  target: string;
}

export interface ResponseHead extends Head {
  status: number;
}

export type FramerEvent<H> = { type: 'head'; head: H } | { type: 'body'; data: Buffer };

export class FramingError extends Error {}

/** Request heads larger than this go to the HTTP server, which answers 431. */
export const MAX_HEAD_BYTES = 32 * 1024;
const MAX_RESPONSE_HEAD_BYTES = 64 * 1024;
const MAX_CHUNK_LINE = 4 * 1024;

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([\x21-\x7e]+) HTTP\/1\.1$/;
const STATUS_LINE = /^HTTP\/1\.[01] (\d{3})(?: [^\0\r\n]*)?$/;
const FORBIDDEN_IN_LINE = /[\0\r\n]/;
const CRLF = Buffer.from('\r\n');
const BLANK_LINE = Buffer.from('\r\n\r\n');

type Body =
  | { kind: 'none' }
  | { kind: 'length'; left: number }
  | { kind: 'chunk-size' }
  | { kind: 'chunk-data'; left: number }
  | { kind: 'trailers' }
  | { kind: 'until-close' };

const NO_BODY: Body = { kind: 'none' };

abstract class Framer<H extends Head> {
  private pending: Buffer = Buffer.alloc(0);
  private body: Body = NO_BODY;
  /** Our own buffer behind `pending` once bytes had to be joined, with room to grow. */
  private store: Buffer | undefined;
  /** How far into `pending` the search for the end of a head has looked in vain. */
  private searched = 0;

  constructor(private readonly maxHead: number) {}

  /**
   * Joins `chunk` to what is pending. A head that trickles in a byte at a time must cost linear
   * time, not quadratic: bytes are appended into spare room that doubles as needed, and the
   * search for the blank line resumes where it stopped.
   */
  push(chunk: Buffer): void {
    if (!this.pending.length) {
      this.pending = chunk;
      return;
    }
    const store = this.store;
    const offset = store && this.pending.buffer === store.buffer ? this.pending.byteOffset - store.byteOffset : -1;
    const length = this.pending.length + chunk.length;
    if (store && offset >= 0 && offset + length <= store.length) {
      chunk.copy(store, offset + this.pending.length);
      this.pending = store.subarray(offset, offset + length);
      return;
    }
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * length, 16 * 1024));
    this.pending.copy(grown, 0);
    chunk.copy(grown, this.pending.length);
    this.store = grown;
    this.pending = grown.subarray(0, length);
  }

  /** Bytes received and not yet returned by next(). */
  rest(): Buffer {
    return this.pending;
  }

  /** Whether the framer stands between two messages (so a head is what comes next). */
  atBoundary(): boolean {
    return this.body.kind === 'none';
  }

  /**
   * The next head or piece of body, or undefined until more bytes arrive. Throws FramingError
   * on a message it will not frame; a head that fails is left unconsumed in rest().
   */
  next(): FramerEvent<H> | undefined {
    const body = this.body;
    switch (body.kind) {
      case 'none':
        return this.nextHead();
      case 'until-close':
        return this.pending.length ? { type: 'body', data: this.take(this.pending.length) } : undefined;
      case 'length': {
        if (!this.pending.length) return undefined;
        const data = this.take(Math.min(body.left, this.pending.length));
        this.body = body.left === data.length ? NO_BODY : { kind: 'length', left: body.left - data.length };
        return { type: 'body', data };
      }
      case 'chunk-data':
        return this.nextChunkData(body.left);
      default:
        return this.nextChunkLine(body.kind === 'trailers');
    }
  }

  protected abstract parse(lines: string[], raw: Buffer): { head: H; body: Body };

  private nextHead(): FramerEvent<H> | undefined {
    // A robust reader ignores empty lines before a message (RFC 9112 §2.2).
    let start = 0;
    while (this.pending.length >= start + 2 && this.pending[start] === 0x0d && this.pending[start + 1] === 0x0a) start += 2;
    const end = this.pending.indexOf(BLANK_LINE, Math.max(start, this.searched - 3));
    if (end < 0) {
      if (this.pending.length - start > this.maxHead) throw new FramingError('head too large');
      this.searched = this.pending.length;
      return undefined;
    }
    this.searched = 0;
    if (end + 4 - start > this.maxHead) throw new FramingError('head too large');
    const raw = this.pending.subarray(start, end + 4);
    const { head, body } = this.parse(raw.toString('latin1', 0, raw.length - 4).split('\r\n'), raw);
    this.body = body;
    this.pending = this.pending.subarray(end + 4);
    return { type: 'head', head };
  }

  /** A chunk's bytes and the CRLF after them, which may arrive in several pieces. */
  private nextChunkData(left: number): FramerEvent<H> | undefined {
    if (!this.pending.length) return undefined;
    const n = Math.min(left, this.pending.length);
    const data = this.take(n);
    for (let i = Math.max(0, left - 2); i < n; i++) {
      if (data[i] !== (i === left - 2 ? 0x0d : 0x0a)) throw new FramingError('chunk not followed by CRLF');
    }
    this.body = n === left ? { kind: 'chunk-size' } : { kind: 'chunk-data', left: left - n };
    return { type: 'body', data };
  }

  /** A chunk-size line, or a trailer line (an empty one ends the message). */
  private nextChunkLine(trailer: boolean): FramerEvent<H> | undefined {
    const eol = this.pending.indexOf(CRLF);
    if (eol < 0) {
      if (this.pending.length > MAX_CHUNK_LINE) throw new FramingError('chunk line too long');
      return undefined;
    }
    const line = this.pending.toString('latin1', 0, eol);
    if (FORBIDDEN_IN_LINE.test(line)) throw new FramingError('bare CR or LF in chunk framing');
    if (trailer) {
      if (line.length === 0) this.body = NO_BODY;
      else if (!TOKEN.test(line.slice(0, line.indexOf(':')))) throw new FramingError('malformed trailer');
    } else {
      const m = /^([0-9A-Fa-f]{1,12})[ \t]*(;.*)?$/.exec(line);
      if (!m) throw new FramingError('malformed chunk size');
      const size = parseInt(m[1]!, 16);
      this.body = size === 0 ? { kind: 'trailers' } : { kind: 'chunk-data', left: size + 2 };
    }
    return { type: 'body', data: this.take(eol + 2) };
  }

  private take(n: number): Buffer {
    const data = this.pending.subarray(0, n);
    this.pending = this.pending.subarray(n);
    return data;
  }
}

/** Frames the requests a client sends. */
export class RequestFramer extends Framer<RequestHead> {
  constructor() {
    super(MAX_HEAD_BYTES);
  }

  protected parse(lines: string[], raw: Buffer) {
    const request = REQUEST_LINE.exec(lines[0]!);
    if (!request) throw new FramingError('not an HTTP/1.1 request line');
    const head: RequestHead = { method: request[1]!, target: request[2]!, headers: headerLines(lines), raw };
    // A request without a length has no body (RFC 9112 §6.3).
    return { head, body: framingOf(head, 'request') ?? NO_BODY };
  }
}

/**
 * Frames the responses a server sends, given the requests it was sent in order (`expect`): a
 * response to HEAD has no body, and a response nobody asked for is a FramingError.
 */
export class ResponseFramer extends Framer<ResponseHead> {
  private readonly methods: string[] = [];

  constructor() {
    super(MAX_RESPONSE_HEAD_BYTES);
  }

  /** A request was sent: one more response is due. */
  expect(method: string): void {
    this.methods.push(method);
  }

  /** Whether every request sent has had its whole response. */
  settled(): boolean {
    return this.methods.length === 0 && this.atBoundary();
  }

  protected parse(lines: string[], raw: Buffer) {
    const status = STATUS_LINE.exec(lines[0]!);
    if (!status) throw new FramingError('not an HTTP/1.x status line');
    const method = this.methods[0];
    if (method === undefined) throw new FramingError('a response nobody asked for');
    const head: ResponseHead = { status: Number(status[1]), headers: headerLines(lines), raw };
    // 101 would switch protocols, which relayed requests never ask for.
    if (head.status === 101) throw new FramingError('an unrequested protocol switch');
    // An interim response (100 Continue, 103 Early Hints) comes before the real one.
    if (head.status < 200) return { head, body: NO_BODY };
    this.methods.shift();
    if (method === 'HEAD' || head.status === 204 || head.status === 304) return { head, body: NO_BODY };
    return { head, body: framingOf(head, 'response') ?? ({ kind: 'until-close' } as const) };
  }
}

function headerLines(lines: string[]): Array<[string, string]> {
  const headers: Array<[string, string]> = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (!TOKEN.test(name)) throw new FramingError('malformed header line');
    const value = line.slice(colon + 1).trim();
    if (FORBIDDEN_IN_LINE.test(value)) throw new FramingError('bare CR, LF or NUL in a header');
    headers.push([name, value]);
  }
  return headers;
}

/**
 * The body a message's headers announce, or undefined when they announce none. A request must
 * be plainly chunked if it has a transfer coding; a response whose codings do not end in chunked
 * runs until the connection closes (RFC 9112 §6.3).
 */
function framingOf(head: Head, kind: 'request' | 'response'): Body | undefined {
  const lengths = values(head, 'content-length');
  const codings = values(head, 'transfer-encoding');
  if (codings.length) {
    if (lengths.length) throw new FramingError('both Content-Length and Transfer-Encoding');
    const list = codings.join(',').toLowerCase().split(',').map((c) => c.trim());
    if (list.at(-1) === 'chunked' && (kind === 'response' || list.length === 1)) return { kind: 'chunk-size' };
    if (kind === 'request') throw new FramingError('transfer coding other than chunked');
    return { kind: 'until-close' };
  }
  if (!lengths.length) return undefined;
  if (lengths.some((v) => v !== lengths[0]) || !/^\d{1,15}$/.test(lengths[0]!)) throw new FramingError('invalid Content-Length');
  const left = Number(lengths[0]);
  return left === 0 ? NO_BODY : { kind: 'length', left };
}

/** Every value of a header, by case-insensitive name. */
export function values(head: Head, name: string): string[] {
  const out: string[] = [];
  for (const [k, v] of head.headers) if (k.length === name.length && k.toLowerCase() === name) out.push(v);
  return out;
}
