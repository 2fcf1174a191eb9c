/**
 * An in-process stand-in for `burrow serve` that speaks the wire protocol (spec §1-§3) and
 * records what clients send. Shared by the SDK and CLI tests; exec runs tiny scripted
 * "programs" instead of real commands, on a terminal or not, as plain commands or as sessions
 * that can be listed, attached to and killed.
 *
 * It keeps to the protocol: a request for a route the protocol's table does not have makes
 * `close()` fail, bodies are parsed with the server's schemas, and what it answers with a
 * schema of the protocol (sandboxes, lists, checkpoints) is checked against it. The contract suite
 * (contract.ts) runs against both this and a real `burrow serve`, so the two cannot drift apart.
 */
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  checkpointSchema,
  createSpriteBody,
  findRoute,
  killResultSchema,
  listSpritesResponseSchema,
  spriteSchema,
  type Checkpoint,
  type CreateSandboxRequest,
  type ListSpritesResponse,
  type Sprite,
} from '@burrow/protocol';

export interface RecordedRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: string;
}

export interface CannedResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
  /** Written one by one instead of `body` (a streamed response). */
  chunks?: string[];
}

/** A terminal size as the fake keeps it. */
export interface Size {
  rows: number;
  cols: number;
}

/**
 * One command, seen from the server side: started by an exec WebSocket, and, when it is a TTY
 * or detachable, a session that outlives that socket, keeps a scrollback and accepts attaches.
 */
export class ExecSession {
  readonly stdin: Buffer[] = [];
  stdinEof = false;
  readonly signals: string[] = [];
  readonly resizes: Size[] = [];
  /** Every socket ever attached, the first one included. */
  readonly sockets: WebSocket[] = [];
  /** The URLs of later attaches (spec §3.8). */
  readonly attaches: URL[] = [];
  readonly clients = new Set<WebSocket>();
  /** Output frames exactly as sent, replayed to whoever attaches later. */
  readonly scrollback: Buffer[] = [];
  readonly tty: boolean;
  readonly detachable: boolean;
  readonly size: Size;
  readonly created = new Date(Date.UTC(2025, 0, 1, 12, 0));
  exitCode: number | null = null;
  private onStdin: ((data: Buffer) => void) | undefined;
  private onEof: (() => void) | undefined;
  private onSignal: ((signal: string) => void) | undefined;
  private readonly onExit: Array<(code: number) => void> = [];

  constructor(
    readonly ws: WebSocket,
    readonly url: URL,
    readonly headers: IncomingMessage['headers'],
    readonly id: string,
    readonly sprite: string,
  ) {
    const q = url.searchParams;
    this.tty = q.get('tty') === 'true';
    this.detachable = q.get('detachable') === 'true';
    this.size = { rows: Number(q.get('rows') ?? 24), cols: Number(q.get('cols') ?? 80) };
    this.addClient(ws);
  }

  /** TTY and detachable commands are sessions: they announce themselves and can be attached. */
  get isSession(): boolean {
    return this.tty || this.detachable;
  }

  get argv(): string[] {
    return this.url.searchParams.getAll('cmd');
  }

  get env(): string[] {
    return this.url.searchParams.getAll('env');
  }

  /** session_info, then the scrollback, then (for an ended session) the exit, as spec §3.8 orders them. */
  attach(ws: WebSocket): void {
    this.addClient(ws);
    for (const frame of this.scrollback) ws.send(frame);
    if (this.exitCode !== null) this.sendExit(ws, this.exitCode);
  }

  send(stream: 1 | 2, data: string | Buffer): void {
    // On a terminal stderr is just more terminal output (spec §3.3).
    const frame = this.tty ? Buffer.from(data) : Buffer.concat([Buffer.of(stream), Buffer.from(data)]);
    if (this.isSession) this.scrollback.push(frame);
    for (const client of this.clients) client.send(frame);
  }

  exit(code: number): void {
    if (this.exitCode !== null) return;
    this.exitCode = code;
    for (const client of this.clients) this.sendExit(client, code);
    for (const listener of this.onExit) listener(code);
  }

  whenStdin(listener: (data: Buffer) => void): void {
    this.onStdin = listener;
  }

  whenEof(listener: () => void): void {
    if (this.stdinEof) listener();
    else this.onEof = listener;
  }

  whenSignal(listener: (signal: string) => void): void {
    this.onSignal = listener;
  }

  whenExit(listener: (code: number) => void): void {
    if (this.exitCode !== null) listener(this.exitCode);
    else this.onExit.push(listener);
  }

  /** What a signal does when the program set no handler of its own: the process dies of it. */
  signal(signal: string): void {
    this.signals.push(signal);
    if (this.onSignal) this.onSignal(signal);
    else this.exit(128 + (SIGNAL_NUMBERS[signal.replace(/^SIG/, '')] ?? 15));
  }

  private sendExit(ws: WebSocket, code: number): void {
    if (this.tty) {
      ws.send(JSON.stringify({ type: 'exit', exit_code: code }));
      ws.close(code === 0 ? 1000 : 4000 + code);
    } else {
      ws.send(Buffer.of(3, code));
      ws.close(1000);
    }
  }

  private addClient(ws: WebSocket): void {
    this.sockets.push(ws);
    this.clients.add(ws);
    ws.on('close', () => this.clients.delete(ws));
    if (this.isSession) {
      ws.send(
        JSON.stringify({
          type: 'session_info',
          session_id: this.id,
          command: this.argv.join(' '),
          created: Math.floor(this.created.getTime() / 1000),
          cols: this.size.cols,
          rows: this.size.rows,
          is_owner: true,
          tty: this.tty,
        }),
      );
    }
    ws.on('message', (data: Buffer, isBinary) => {
      if (!isBinary) return this.control(ws, JSON.parse(data.toString('utf8')) as Record<string, unknown>);
      if (this.tty) {
        this.stdin.push(data);
        this.onStdin?.(data);
      } else if (data[0] === 0) {
        this.stdin.push(data.subarray(1));
        this.onStdin?.(data.subarray(1));
      } else if (data[0] === 4) {
        this.stdinEof = true;
        this.onEof?.();
      }
    });
  }

  private control(ws: WebSocket, message: Record<string, unknown>): void {
    if (message.type === 'signal') this.signal(String(message.signal));
    if (message.type === 'resize') {
      const { rows, cols } = message;
      if (typeof rows !== 'number' || typeof cols !== 'number' || rows < 1 || cols < 1) {
        ws.send(JSON.stringify({ type: 'error', message: `ignored resize to ${String(cols)}x${String(rows)}` }));
        return;
      }
      this.size.rows = rows;
      this.size.cols = cols;
      this.resizes.push({ rows, cols });
    }
  }
}

const SIGNAL_NUMBERS: Record<string, number> = { HUP: 1, INT: 2, QUIT: 3, KILL: 9, TERM: 15 };

export type Program = (session: ExecSession) => void;

/** The commands the fake sandbox can run, by argv[0]. */
export const programs: Record<string, Program> = {
  echo: (s) => {
    s.send(1, `${s.argv.slice(1).join(' ')}\n`);
    s.exit(0);
  },
  cat: (s) => {
    s.whenStdin((data) => s.send(1, data));
    s.whenEof(() => s.exit(0));
  },
  /** `fail <code> <message>`: the message on stderr, then the code. */
  fail: (s) => {
    s.send(2, `${s.argv[2] ?? ''}\n`);
    s.exit(Number(s.argv[1]));
  },
  /** Interleaved streams, to check order and separation. */
  mixed: (s) => {
    s.send(1, 'out 1\n');
    s.send(2, 'err 1\n');
    s.send(1, 'out 2\n');
    s.send(2, 'err 2\n');
    s.exit(3);
  },
  pwd: (s) => {
    s.send(1, `${s.url.searchParams.get('dir') ?? '/home/user'}\n`);
    s.exit(0);
  },
  env: (s) => {
    s.send(1, s.env.map((pair) => `${pair}\n`).join(''));
    s.exit(0);
  },
  /** `bytes <n>`: n bytes of a known pattern on stdout, as fast as the server can queue them. */
  bytes: (s) => {
    const total = Number(s.argv[1]);
    for (let at = 0; at < total; at += 64 * 1024) s.send(1, pattern(at, Math.min(64 * 1024, total - at)));
    s.exit(0);
  },
  /** Runs until signalled, then reports the signal like a shell would. */
  sleep: (s) => {
    s.whenSignal((signal) => {
      s.send(2, `got ${signal}\n`);
      s.exit(143);
    });
  },
  /** The server goes away mid-command. */
  hangup: (s) => {
    s.send(1, 'partial\n');
    s.ws.close(1011, 'sandbox died');
  },
  /**
   * A line-at-a-time shell for terminals: echoes what is typed, runs `echo`, `stty size` and
   * `exit [code]`, takes Ctrl-D on an empty line as exit, and Ctrl-C (as a signal) as a new prompt.
   */
  bash: (s) => {
    let line = '';
    const prompt = (): void => s.send(1, '$ ');
    const run = (command: string): void => {
      const [name, ...rest] = command.trim().split(/\s+/);
      if (!name) return;
      if (name === 'exit') s.exit(Number(rest[0] ?? 0));
      else if (name === 'echo') s.send(1, `${rest.join(' ')}\r\n`);
      else if (command.trim() === 'stty size') s.send(1, `${s.size.rows} ${s.size.cols}\r\n`);
      else s.send(1, `bash: ${name}: command not found\r\n`);
    };
    s.whenStdin((data) => {
      for (const byte of data) {
        if (s.exitCode !== null) return;
        if (byte === 0x04 && line === '') {
          s.send(1, 'exit\r\n');
          s.exit(0);
        } else if (byte === 0x0d || byte === 0x0a) {
          s.send(1, '\r\n');
          run(line);
          line = '';
          if (s.exitCode === null) prompt();
        } else {
          line += String.fromCharCode(byte);
          s.send(1, Buffer.of(byte));
        }
      }
    });
    s.whenSignal((signal) => {
      if (signal !== 'SIGINT') return s.exit(128 + (SIGNAL_NUMBERS[signal.replace(/^SIG/, '')] ?? 15));
      line = '';
      s.send(1, '^C\r\n');
      prompt();
    });
    prompt();
  },
  /** Ignores every signal but the SIGKILL the server sends after a kill's timeout. */
  stubborn: (s) => {
    s.whenSignal(() => s.send(1, 'ignored\n'));
  },
  /** `closecode <code>`: output, then a close with that code and no exit message (spec §3.5). */
  closecode: (s) => {
    s.send(1, 'bye\r\n');
    s.ws.close(Number(s.argv[1]));
  },
  /** The connection drops without a close frame. */
  drop: (s) => {
    s.send(1, 'partial\r\n');
    s.ws.terminate();
  },
  /** Terminal notifications around real output: a keepalive, port_opened, an error, plain text. */
  chatty: (s) => {
    s.ws.send(Buffer.alloc(0));
    s.ws.send(JSON.stringify({ type: 'port_opened', port: 8080, address: '0.0.0.0', pid: 7 }));
    s.send(1, 'real\r\n');
    s.ws.send(JSON.stringify({ type: 'error', message: 'ignored resize' }));
    s.ws.send('not json');
    s.exit(7);
  },
  /** Keepalives and notifications around real output; all must be ignored. */
  noisy: (s) => {
    s.ws.send(Buffer.alloc(0));
    s.ws.send(Buffer.from([9, 1, 2, 3]));
    s.ws.send(JSON.stringify({ type: 'port_opened', port: 8080, address: '0.0.0.0', pid: 7 }));
    s.send(1, 'real\n');
    s.ws.send(Buffer.of(1));
    s.ws.send(Buffer.of(3, 0));
    s.send(1, 'after exit\n');
    s.ws.close(1000);
  },
};

/** Byte i of a `bytes` stream is (i % 251): any lost, doubled or reordered chunk shows. */
export function pattern(offset: number, length: number): Buffer {
  const chunk = Buffer.alloc(length);
  for (let i = 0; i < length; i++) chunk[i] = (offset + i) % 251;
  return chunk;
}

export class FakeBurrow {
  readonly token = 'test-token';
  readonly sprites = new Map<string, Sprite>();
  readonly requests: RecordedRequest[] = [];
  readonly sessions: ExecSession[] = [];
  /** Checkpoints by sandbox name, newest first; every sandbox gets v0 when created. */
  readonly checkpoints = new Map<string, Checkpoint[]>();
  /** Page size cap, small so that paging is exercised. */
  pageSize = 2;
  /** When set and it returns a response, that response is sent instead of the normal one. */
  override: ((request: RecordedRequest) => CannedResponse | undefined) | undefined;
  /** Requests for routes the protocol does not have: a client bug, reported by close(). */
  readonly offContract: string[] = [];

  private readonly wss = new WebSocketServer({ noServer: true });
  private constructor(private readonly server: Server) {}

  static async start(): Promise<FakeBurrow> {
    const server = createServer();
    const fake = new FakeBurrow(server);
    server.on('request', (req, res) => void fake.handle(req, res));
    server.on('upgrade', (req, socket, head) => fake.upgrade(req, socket, head));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  addSprite(name: string, fields: Partial<Sprite> = {}): Sprite {
    const sprite = makeSprite({ name }, this.sprites.size, fields);
    this.sprites.set(name, sprite);
    this.checkpoints.set(name, [makeCheckpoint('v0', null, '')]);
    return sprite;
  }

  async close(): Promise<void> {
    for (const client of this.wss.clients) client.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.offContract.length) throw new Error(`requests for routes the protocol does not have: ${this.offContract.join(', ')}`);
  }

  /** Whether the request is for a route of the protocol; records it when it is not. */
  private onContract(method: string, pathname: string, websocket: boolean): boolean {
    if (findRoute(method, pathname, websocket)) return true;
    this.offContract.push(`${websocket ? 'WS' : method} ${pathname}`);
    return false;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      url: new URL(req.url ?? '/', 'http://fake'),
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
    };
    this.requests.push(request);
    const reply = this.onContract(request.method, request.url.pathname, false)
      ? (this.override?.(request) ?? (await this.route(request)))
      : error(404, 'not_found', `no such endpoint: ${request.method} ${request.url.pathname}`);
    res.writeHead(reply.status, { 'Content-Type': 'application/json', ...reply.headers });
    if (reply.chunks) {
      // NDJSON: one write per line, as a flushing server sends them.
      for (const chunk of reply.chunks) {
        res.write(chunk);
        await new Promise((r) => setTimeout(r, 1));
      }
      res.end();
      return;
    }
    res.end(reply.body);
  }

  private async route({ method, url, headers, body }: RecordedRequest): Promise<CannedResponse> {
    if (headers.authorization !== `Bearer ${this.token}`) return error(401, 'unauthorized', 'bad or missing token');
    const exec = url.pathname.match(/^\/v1\/sprites\/([^/]+)\/exec(?:\/([^/]+)\/kill)?$/);
    if (exec) {
      const sprite = decodeURIComponent(exec[1] ?? '');
      if (!this.sprites.has(sprite)) return error(404, 'sandbox_not_found', `sandbox '${sprite}' does not exist`);
      if (method === 'GET' && exec[2] === undefined) return this.listSessions(sprite);
      if (method === 'POST' && exec[2] !== undefined) return this.killSession(sprite, decodeURIComponent(exec[2]), url);
    }
    const kill = url.pathname.match(/^\/v1\/sprites\/([^/]+)\/kill$/);
    if (kill && method === 'POST') {
      const sprite = decodeURIComponent(kill[1] ?? '');
      if (!this.sprites.has(sprite)) return error(404, 'sandbox_not_found', `sandbox '${sprite}' does not exist`);
      // The fake runs no processes: nothing to end.
      return { status: 200, body: JSON.stringify(killResultSchema.parse({ sprite_name: sprite, killed: 0, message: 'ended 0 processes; services start again' })) };
    }
    const name = decodeURIComponent(url.pathname.match(/^\/v1\/sprites\/([^/]+)$/)?.[1] ?? '');

    if (method === 'POST' && url.pathname === '/v1/sprites') {
      const parsed = createSpriteBody.safeParse(JSON.parse(body));
      if (!parsed.success) {
        const unknown = parsed.error.issues.some((i) => i.code === 'unrecognized_keys');
        return error(400, unknown ? 'unknown_field' : 'invalid_request', parsed.error.issues[0]?.message ?? 'invalid request');
      }
      const request = parsed.data as CreateSandboxRequest;
      if (this.sprites.has(request.name)) return error(409, 'sandbox_exists', `sandbox '${request.name}' already exists`);
      const sprite = makeSprite(request, this.sprites.size);
      this.sprites.set(sprite.name, sprite);
      this.checkpoints.set(sprite.name, [makeCheckpoint('v0', null, '')]);
      return { status: 201, body: JSON.stringify(sprite) };
    }
    const checkpointRoute = /^\/v1\/sprites\/([^/]+)\/(checkpoint|checkpoints)(?:\/([^/]+))?(?:\/(restore|fork))?$/.exec(url.pathname);
    if (checkpointRoute) return this.checkpointRoute(method, url, body, checkpointRoute);
    if (method === 'GET' && url.pathname === '/v1/sprites') return this.list(url);
    if (!name) return error(404, 'not_found', `no route for ${method} ${url.pathname}`);

    const sprite = this.sprites.get(name);
    if (!sprite) return error(404, 'sandbox_not_found', `sandbox '${name}' does not exist`);
    if (method === 'GET') return { status: 200, body: JSON.stringify(sprite) };
    if (method === 'DELETE') {
      this.sprites.delete(name);
      return { status: 204, body: '' };
    }
    return error(404, 'not_found', `no route for ${method} ${url.pathname}`);
  }

  /** Spec §5, and burrow's delete and fork. */
  private checkpointRoute(method: string, url: URL, body: string, m: RegExpExecArray): CannedResponse {
    const [, rawName, kind, id, action] = m;
    const name = decodeURIComponent(rawName ?? '');
    const list = this.checkpoints.get(name);
    if (!this.sprites.has(name) || !list) return error(404, 'sandbox_not_found', `sandbox '${name}' does not exist`);
    const ndjson = (lines: object[]): CannedResponse => ({
      status: 200,
      body: '',
      headers: { 'Content-Type': 'application/x-ndjson' },
      chunks: lines.map((l) => `${JSON.stringify({ ...l, time: new Date().toISOString() })}\n`),
    });
    if (kind === 'checkpoint' && method === 'POST' && !id) {
      const { comment, memory } = JSON.parse(body || '{}') as { comment?: string; memory?: boolean };
      const next = `v${list.filter((c) => !c.is_auto).length}`;
      list.unshift({ ...makeCheckpoint(next, list.find((c) => !c.is_auto)?.id ?? null, comment ?? ''), memory: memory ?? false });
      return ndjson([{ type: 'info', data: 'sandbox was frozen for 12 ms' }, { type: 'complete', data: `Checkpoint ${next} created` }]);
    }
    if (kind !== 'checkpoints') return error(404, 'not_found', `no route for ${method} ${url.pathname}`);
    if (!id && method === 'GET') {
      const all = url.searchParams.get('includeAuto') === 'true';
      return { status: 200, body: JSON.stringify(list.filter((c) => all || !c.is_auto)) };
    }
    const checkpoint = list.find((c) => c.id === decodeURIComponent(id ?? ''));
    if (!checkpoint) return error(404, 'checkpoint_not_found', `sandbox '${name}' has no checkpoint '${id}'`);
    if (!action && method === 'GET') return { status: 200, body: JSON.stringify(checkpoint) };
    if (!action && method === 'DELETE') {
      if (checkpoint === list.find((c) => !c.is_auto)) return error(409, 'checkpoint_in_use', `${checkpoint.id} is in use`);
      list.splice(list.indexOf(checkpoint), 1);
      return { status: 204, body: '' };
    }
    if (action === 'restore' && method === 'POST') {
      if (checkpoint.id === 'v666') return ndjson([{ type: 'info', data: 'stopping' }, { type: 'error', error: 'the disk is on fire' }]);
      list.unshift(makeCheckpoint(`auto-${list.filter((c) => c.is_auto).length + 1}`, checkpoint.id, `before restoring ${checkpoint.id}`, true));
      return ndjson([{ type: 'info', data: 'stopping' }, { type: 'complete', data: `Restored ${checkpoint.id}` }]);
    }
    if (action === 'fork' && method === 'POST') {
      const request = JSON.parse(body) as { name: string };
      if (this.sprites.has(request.name)) return error(409, 'sandbox_exists', `sandbox '${request.name}' already exists`);
      const sprite = makeSprite({ name: request.name }, this.sprites.size);
      this.sprites.set(sprite.name, sprite);
      this.checkpoints.set(sprite.name, [makeCheckpoint('v0', null, '')]);
      return { status: 201, body: JSON.stringify(sprite) };
    }
    return error(404, 'not_found', `no route for ${method} ${url.pathname}`);
  }

  private list(url: URL): CannedResponse {
    const prefix = url.searchParams.get('prefix') ?? '';
    const start = Number(url.searchParams.get('continuation_token') ?? '0');
    const size = Math.min(Number(url.searchParams.get('max_results') ?? '50'), this.pageSize);
    const matching = [...this.sprites.values()].filter((s) => s.name.startsWith(prefix));
    const page = matching.slice(start, start + size);
    const hasMore = start + size < matching.length;
    const counters = { name: 'local', running: matching.length, warm: 0, cold: 0, running_limit: 10, warm_limit: 10 };
    const response: ListSpritesResponse = {
      sprites: page,
      has_more: hasMore,
      next_continuation_token: hasMore ? String(start + size) : '',
      ...counters,
      org: counters,
    };
    return { status: 200, body: JSON.stringify(listSpritesResponseSchema.parse(response)) };
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://fake');
    const [, rawName = '', rawId] = url.pathname.match(/^\/v1\/sprites\/([^/]+)\/exec(?:\/([^/]+))?$/) ?? [];
    const name = decodeURIComponent(rawName);
    const refuse = (reply: CannedResponse): void => {
      socket.end(
        `HTTP/1.1 ${reply.status} Refused\r\nContent-Type: application/json\r\n` +
          `Content-Length: ${Buffer.byteLength(reply.body)}\r\nConnection: close\r\n\r\n${reply.body}`,
      );
    };
    if (!this.onContract('GET', url.pathname, true)) return refuse(error(404, 'not_found', `no such endpoint: ${url.pathname}`));
    if (req.headers.authorization !== `Bearer ${this.token}`) return refuse(error(401, 'unauthorized', 'bad or missing token'));
    if (!name || !this.sprites.has(name)) return refuse(error(404, 'sandbox_not_found', `sandbox '${name}' does not exist`));
    if (rawId !== undefined) {
      const session = this.session(name, decodeURIComponent(rawId));
      if (!session) return refuse(error(404, 'not_found', `sandbox '${name}' has no session '${decodeURIComponent(rawId)}'`));
      session.attaches.push(url);
      this.wss.handleUpgrade(req, socket, head, (ws) => session.attach(ws));
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new ExecSession(ws, url, req.headers, String(this.sessions.length + 1), name);
      this.sessions.push(session);
      const program = programs[session.argv[0] ?? ''];
      if (program) program(session);
      else {
        session.send(2, `${session.argv[0]}: command not found\n`);
        session.exit(127);
      }
    });
  }

  /** A TTY or detachable command by its id; plain commands are not sessions. */
  session(sprite: string, id: string): ExecSession | undefined {
    return this.sessions.find((s) => s.isSession && s.sprite === sprite && s.id === id);
  }

  /** Spec §3.9. */
  private listSessions(sprite: string): CannedResponse {
    const sessions = this.sessions
      .filter((s) => s.isSession && s.sprite === sprite)
      .map((s) => ({
        id: s.id,
        command: s.argv.join(' '),
        workdir: s.url.searchParams.get('dir') ?? '/home/user',
        created: s.created.toISOString(),
        bytes_per_second: 0,
        is_active: s.exitCode === null,
        last_activity: s.created.toISOString(),
        tty: s.tty,
      }));
    return { status: 200, body: JSON.stringify({ sessions }) };
  }

  /** Spec §3.10: signal, wait up to the timeout, SIGKILL if need be, then report. */
  private async killSession(sprite: string, id: string, url: URL): Promise<CannedResponse> {
    const session = this.session(sprite, id);
    if (!session) return error(404, 'not_found', `sandbox '${sprite}' has no session '${id}'`);
    if (session.exitCode !== null) return error(410, 'gone', `session '${id}' already ended with exit code ${session.exitCode}`);
    const signal = url.searchParams.get('signal') ?? 'SIGTERM';
    const timeoutMs = parseFakeDuration(url.searchParams.get('timeout') ?? '10s');
    const events: object[] = [{ type: 'signal', signal, message: `sent ${signal} to session ${id}` }];
    session.signal(signal);
    const exited = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      session.whenExit(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (exited) events.push({ type: 'exited', exit_code: session.exitCode });
    else {
      events.push({ type: 'timeout', message: `still running after ${timeoutMs} ms` });
      session.exit(137);
      events.push({ type: 'killed', signal: 'SIGKILL' });
    }
    events.push({ type: 'complete', exit_code: session.exitCode });
    return { status: 200, body: events.map((e) => `${JSON.stringify(e)}\n`).join(''), headers: { 'Content-Type': 'application/x-ndjson' } };
  }
}

function parseFakeDuration(value: string): number {
  const match = value.match(/^(\d+)(ms|s)$/);
  if (!match) return 10_000;
  return Number(match[1]) * (match[2] === 'ms' ? 1 : 1000);
}

function error(status: number, code: string, message: string): CannedResponse {
  return { status, body: JSON.stringify({ error: code, message }) };
}

function makeCheckpoint(id: string, sourceId: string | null, comment: string, isAuto = false): Checkpoint {
  return checkpointSchema.parse({
    id,
    create_time: new Date().toISOString(),
    comment,
    history: sourceId ? [sourceId] : [],
    is_auto: isAuto,
    memory: false,
    source_id: sourceId,
    health: '',
    size_bytes: 16384,
  });
}

function makeSprite(request: CreateSandboxRequest, index: number, fields: Partial<Sprite> = {}): Sprite {
  const runtime = request.runtime === 'runc' ? 'runc' : 'gvisor';
  const created = new Date(Date.UTC(2025, 0, 1, 12, index)).toISOString();
  return spriteSchema.parse({
    id: `sb-${index}`,
    name: request.name,
    organization: 'local',
    status: 'running',
    config: { ram_mb: 512, cpus: 1, region: 'local', storage_gb: 10, ...request.config },
    environment: request.environment ?? {},
    created_at: created,
    updated_at: created,
    url: `http://${request.name}.localhost:7070`,
    url_settings: { auth: 'sprite' },
    bucket_name: '',
    primary_region: 'local',
    version: '1',
    environment_version: '1',
    labels: request.labels ?? [],
    last_running_at: created,
    last_warming_at: null,
    runtime,
    isolation: runtime === 'runc' ? 'runc: shares the host kernel' : 'gVisor: a user-space kernel between the box and the host',
    image: request.image ?? 'dev',
    failure_reason: null,
    condition: null,
    ...fields,
  });
}
