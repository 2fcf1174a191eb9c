// Sandbox URLs: `http://<name>.<domain>:<port>/` on the API listener, and
// `http://<port>-<name>.<domain>/` for any other port of the sandbox (the names E2B's
// `getHost(port)` builds). Requests whose Host names a sandbox never reach the API routes: they
// are authorised (url_settings.auth `sprite` or `public`, the same for every port), the sandbox is
// woken, and the request (or WebSocket) is relayed to its HTTP port, or to the port named.
//
// Two paths do this. A connection whose first request may go straight through (the sandbox is
// up, the request carries its credential, no upgrade, no login) is relayed at the byte level
// (`route`, http-connection-relay.ts), which costs a fraction of a full HTTP relay. All
// else goes through Node's HTTP server (`handle`, `upgrade`): waking, login, the pages that
// explain a refusal, WebSockets, and any request the byte-level relay hands back.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Activity } from '../../core/activity.js';
import { DomainError } from '../../core/errors.js';
import { newNameProblem } from '@burrow/protocol';
import type { SandboxManager } from '../../core/sandbox-manager.js';
import type { SandboxRecord } from '../../db/sandboxes.js';
import type { Route } from './http-connection-relay.js';
import { forwardRequest, forwardUpgrade, waitForListener, type Target } from './http-forward.js';
import { values, type RequestHead } from './http-framing.js';
import { appHeaders, appHeaderValue } from '../burrow-credentials.js';
import { LOGIN_PATH, LOGOUT_PATH, type UrlAccess } from './url-access.js';

export const DEFAULT_HTTP_PORT = 8080;
/** After a wake, how long a request waits for the app to listen before the 502 page. */
const WOKEN_LISTEN_WAIT_MS = 15_000;

export interface SandboxUrlDeps {
  domain: string;
  manager: SandboxManager;
  access: UrlAccess;
  /** Where the sandbox's HTTP server is reached from the host. */
  targetOf(record: SandboxRecord): Target | undefined;
  /** Where a given port of the sandbox is reached from the host. */
  targetAt(record: SandboxRecord, port: number): Target | undefined;
  /** A request or WebSocket in flight keeps its sandbox awake. */
  activity?: Activity;
  /** Ends a WebSocket opened with an API token when that token is revoked or expires. */
  holdWhileTokenValid?(authorization: string | undefined, socket: Duplex): void;
}

/** What a sandbox URL's host names: the sandbox, and the port when it is not the HTTP port. */
export interface UrlAddress {
  name: string;
  port?: number;
}

const PORT_PREFIX = /^([1-9]\d{0,4})-(.+)$/;

export class SandboxUrls {
  constructor(private readonly deps: SandboxUrlDeps) {}

  /** The sandbox (and port) a request's Host names, or undefined for the API itself. */
  addressOf(req: IncomingMessage): UrlAddress | undefined {
    return this.addressNamed(req.headers.host ?? '');
  }

  /**
   * `<name>` or `<port>-<name>`. A sandbox whose own name looks like the second form keeps its
   * URL: the port form applies only when no sandbox has the whole label as its name.
   */
  private addressNamed(hostHeader: string): UrlAddress | undefined {
    const host = hostHeader.toLowerCase().replace(/:\d+$/, '').replace(/\.$/, '');
    const suffix = `.${this.deps.domain}`;
    if (!host.endsWith(suffix)) return undefined;
    const label = host.slice(0, -suffix.length);
    const prefixed = PORT_PREFIX.exec(label);
    if (prefixed && !this.deps.manager.find(label)) {
      const port = Number(prefixed[1]);
      if (port <= 65535 && newNameProblem(prefixed[2]!) === null) return { name: prefixed[2]!, port };
    }
    return newNameProblem(label) === null ? { name: label } : undefined;
  }

  private targetFor(record: SandboxRecord, address: UrlAddress): Target | undefined {
    return address.port === undefined ? this.deps.targetOf(record) : this.deps.targetAt(record, address.port);
  }

  /**
   * The byte-level route for a connection whose first request names a running sandbox, or
   * undefined to leave the connection to the HTTP server. Every request on the route is checked
   * again as it comes (rewrite): the same sandbox, still running, still allowed in.
   */
  route(first: RequestHead, client: Socket): Route | undefined {
    const hosts = values(first, 'host');
    const address = hosts.length === 1 ? this.addressNamed(hosts[0]!) : undefined;
    const record = address === undefined ? undefined : this.deps.manager.find(address.name);
    if (!address || !record || record.status !== 'running') return undefined;
    const target = this.targetFor(record, address);
    if (!target) return undefined;
    // A request in flight keeps the sandbox awake; an idle keep-alive connection does not.
    let release: (() => void) | undefined;
    return {
      target,
      rewrite: (head) => this.directHead(head, record.id, address, client.remoteAddress ?? ''),
      busy: (busy) => {
        if (busy) return void (release ??= this.deps.activity?.hold(record.name));
        release?.();
        release = undefined;
      },
      done: () => release?.(),
    };
  }

  /** The head to relay for a request on a direct route, or undefined when it needs `handle`. */
  private directHead(head: RequestHead, sandboxId: string, address: UrlAddress, from: string): string | undefined {
    const { name } = address;
    const hosts = values(head, 'host');
    const named = hosts.length === 1 ? this.addressNamed(hosts[0]!) : undefined;
    if (named?.name !== name || named.port !== address.port) return undefined;
    if (head.method === 'CONNECT' || values(head, 'upgrade').length || isBurrowPath(pathOf(head.target))) return undefined;
    const record = this.deps.manager.find(name);
    if (!record || record.id !== sandboxId || record.status !== 'running') return undefined;
    if (record.urlSettings.auth !== 'public') {
      const cookie = values(head, 'cookie').join('; ');
      if (!this.deps.access.opens(record, { authorization: values(head, 'authorization')[0], cookie })) return undefined;
    }
    this.deps.activity?.touch(name);
    let out = `${head.method} ${head.target} HTTP/1.1\r\n`;
    const forwardedFor: string[] = [];
    for (const [key, value] of head.headers) {
      switch (key.toLowerCase()) {
        case 'x-forwarded-for':
          forwardedFor.push(value);
          continue;
        case 'x-forwarded-host':
        case 'x-forwarded-proto':
          continue;
      }
      const kept = appHeaderValue(key, value);
      if (kept !== undefined) out += `${key}: ${kept}\r\n`;
    }
    forwardedFor.push(from);
    return `${out}X-Forwarded-For: ${forwardedFor.join(', ')}\r\nX-Forwarded-Host: ${hosts[0]}\r\nX-Forwarded-Proto: http\r\n\r\n`;
  }

  async handle(req: IncomingMessage, res: ServerResponse, address: UrlAddress): Promise<void> {
    const { name } = address;
    const record = await this.admit(req, name, (status, title, text, headers) => page(res, status, title, text, headers));
    if (!record) return;
    const path = pathOf(req.url ?? '/');
    if (path === LOGIN_PATH) return this.login(req, res, record);
    if (path === LOGOUT_PATH) return this.logout(req, res, record);
    const release = this.deps.activity?.hold(name);
    if (release) res.once('close', release);
    const target = await this.wake(record, address, (status, title, text) => page(res, status, title, text));
    if (!target) return;
    forwardRequest(req, res, target, {
      headers: this.headersFor(req),
      onUnreachable: (r, err) => page(r, 502, 'Nothing is listening', nothingListening(record, target, err)),
    });
  }

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, address: UrlAddress): Promise<void> {
    const { name } = address;
    const fail = (status: number, title: string, text: string) => {
      socket.end(`HTTP/1.1 ${status} ${title}\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n${text}\n`);
    };
    socket.on('error', () => {});
    const record = await this.admit(req, name, fail);
    if (!record) return;
    // A WebSocket that a burrow token opened lives no longer than that token.
    if (req.headers.authorization !== undefined) this.deps.holdWhileTokenValid?.(req.headers.authorization, socket);
    const release = this.deps.activity?.hold(name);
    if (release) socket.once('close', release);
    const target = await this.wake(record, address, fail);
    if (!target) return;
    forwardUpgrade(req, socket, head, target, {
      headers: this.headersFor(req, true),
      onUnreachable: (err) => fail(502, 'Bad Gateway', nothingListening(record, target, err)),
    });
  }

  private async admit(
    req: IncomingMessage,
    name: string,
    fail: (status: number, title: string, text: string, headers?: Record<string, string>) => void,
  ): Promise<SandboxRecord | undefined> {
    let record: SandboxRecord;
    try {
      record = this.deps.manager.get(name);
    } catch {
      fail(404, 'No such sandbox', `There is no sandbox named '${name}' here.`);
      return undefined;
    }
    if (record.urlSettings.auth === 'public' || isBurrowPath(pathOf(req.url ?? '/')) || this.deps.access.opens(record, req.headers)) return record;
    fail(
      401,
      'Log in to open this sandbox',
      `This sandbox's URL is private. Run \`burrow url ${name}\` and open the login link it prints, ` +
        `send the API token as "Authorization: Bearer <token>", or make it public with \`burrow url update ${name} --auth public\`.`,
      { 'WWW-Authenticate': 'Bearer realm="burrow"' },
    );
    return undefined;
  }

  private login(req: IncomingMessage, res: ServerResponse, record: SandboxRecord): void {
    const ticket = new URL(req.url ?? '/', 'http://x').searchParams.get('ticket') ?? '';
    const cookie = this.deps.access.login(record, ticket);
    if (cookie === undefined) {
      return page(res, 403, 'This login link is not valid', `The link has expired, its token was revoked, or it is not for '${record.name}'. Run \`burrow url ${record.name}\` for a new one.`);
    }
    res.writeHead(302, { Location: '/', 'Set-Cookie': cookie, 'Cache-Control': 'no-store' });
    res.end();
  }

  private logout(req: IncomingMessage, res: ServerResponse, record: SandboxRecord): void {
    const cleared = this.deps.access.logout(req.headers);
    page(res, 200, 'Logged out', `This browser is no longer logged in to '${record.name}'.`, { 'Set-Cookie': cleared });
  }

  private async wake(record: SandboxRecord, address: UrlAddress, fail: (status: number, title: string, text: string) => void): Promise<Target | undefined> {
    try {
      const asleep = record.status !== 'running';
      const awake = await this.deps.manager.ensureRunning(record.name);
      const target = this.targetFor(awake, address);
      if (target && asleep) await waitForListener(target, WOKEN_LISTEN_WAIT_MS);
      if (target) return target;
      fail(503, 'Sandbox has no network', `Sandbox '${record.name}' has no network address.`);
    } catch (e) {
      const message = e instanceof DomainError ? e.message : `waking the sandbox failed: ${(e as Error).message}`;
      fail(503, 'Sandbox unavailable', message);
    }
    return undefined;
  }

  private headersFor(req: IncomingMessage, upgrade = false) {
    const headers = appHeaders(req.headers);
    const from = req.socket.remoteAddress ?? '';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${from}` : from;
    headers['x-forwarded-host'] = req.headers.host ?? '';
    headers['x-forwarded-proto'] = 'http';
    if (!upgrade) {
      delete headers.connection;
      delete headers.upgrade;
    }
    return headers;
  }
}

/** Paths burrow answers itself on every sandbox URL: the app never sees them. */
function isBurrowPath(path: string): boolean {
  return path === LOGIN_PATH || path === LOGOUT_PATH;
}

function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

function nothingListening(record: SandboxRecord, target: Target, err: NodeJS.ErrnoException): string {
  return (
    `Nothing is listening on port ${target.port} in sandbox '${record.name}' (${err.code ?? err.message}). ` +
    `Start a server on that port inside, for example: burrow exec ${record.name} -- python3 -m http.server ${target.port}`
  );
}

function page(res: ServerResponse, status: number, title: string, text: string, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.destroy();
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head>` +
    `<body style="font-family:sans-serif;max-width:40em;margin:4em auto"><h1>${escape(title)}</h1><p>${escape(text)}</p>` +
    `<p style="color:#888">burrow</p></body></html>\n`;
  res.writeHead(status, { ...headers, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
