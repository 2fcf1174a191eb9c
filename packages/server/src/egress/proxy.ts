// burrow's egress proxy. One TCP listener takes, from sandboxes:
// - TLS (port 443 redirected here): terminated with a leaf for the SNI name, signed by the
//   install's CA, so that the requests inside can be read;
// - plain HTTP (port 80 redirected here, or an explicit-proxy request `GET http://...`);
// - CONNECT (explicit proxy, HTTPS_PROXY): answered 200, then the tunnel is read as above.
// Every request goes through the injector (placeholders -> real credentials, or 403 and nothing
// forwarded) and is re-sent upstream, over TLS that verifies the upstream's certificate.
import { lookup as systemLookup, type LookupAddress, type LookupAllOptions, type LookupOneOptions } from 'node:dns';
import { Agent as HttpAgent, createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createServer, isIP, type AddressInfo, type BlockList, type Server, type Socket } from 'node:net';
import { createSecureContext, rootCertificates, TLSSocket, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { EgressLogEntry } from '@burrow/protocol';
import type { CertificateAuthority } from './certificate-authority.js';
import { blockedReason } from './destinations.js';
import type { Injector } from './injector.js';

export interface SandboxIdentity {
  id: string;
  name: string;
  /** The sandbox's own address (the connection's source). */
  address: string;
}

/** What the proxy reports of each credential use; the log adds the id and the time. */
export type EgressEvent = Omit<EgressLogEntry, 'id' | 'at'>;

export type Lookup = (hostname: string, callback: (err: Error | null, addresses: LookupAddress[]) => void) => void;

export interface EgressProxyDeps {
  ca: CertificateAuthority;
  injector: Injector;
  /** The sandbox a connection comes from, by the socket's addresses; null for anything else. */
  identify(remoteAddress: string, localAddress: string): SandboxIdentity | null;
  /** Why this sandbox may not reach `host` (its egress policy), or null. */
  policyRefusal(sandbox: SandboxIdentity | null, host: string): string | null;
  /** Upstream addresses never reached (private, loopback, link-local...). */
  blocked: BlockList;
  /** Every use of a credential, injected or refused. */
  audit(event: EgressEvent): void;
  /** Extra CAs (PEM) trusted for upstream certificates, besides Node's roots (tests). */
  upstreamCa?: string[];
  /** Name resolution for upstreams (default: the host's resolver). */
  lookup?: Lookup;
  /** Connections not from a sandbox are refused unless this is set (tests, the benchmark). */
  acceptNonSandbox?: boolean;
  /** Upstream ports of redirected (transparent) traffic; tests move them off 80 and 443. */
  transparentPorts?: { http: number; https: number };
  /** Counts requests that carried an injected credential, and refusals by a short reason. */
  counters?: { injected(): void; refused(reason: 'credential' | 'policy' | 'blocked'): void };
}

interface Connection {
  sandbox: SandboxIdentity | null;
  /** Where requests on this connection go: from CONNECT, or from TLS's SNI. */
  target?: { host: string; port: number; tls: boolean };
}

interface Destination {
  host: string;
  port: number;
  secure: boolean;
  path: string;
}

const TLS_HANDSHAKE = 0x16;
/** A connection that sends nothing for this long is closed (before and between requests). */
const IDLE_MS = 120_000;
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$/;
const MAX_CONTEXTS = 2048;
const UPSTREAM_TIMEOUT_MS = 60_000;
const HOP_BY_HOP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'proxy-connection', 'proxy-authenticate']);

class DestinationRefused extends Error {}

export class EgressProxy {
  private server: Server | undefined;
  private readonly connections = new WeakMap<Duplex, Connection>();
  private readonly contexts = new Map<string, SecureContext>();
  private readonly http = createHttpServer({ requestTimeout: 0 });
  private readonly httpAgent = new HttpAgent({ keepAlive: true, timeout: UPSTREAM_TIMEOUT_MS });
  private readonly httpsAgent: HttpsAgent;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly deps: EgressProxyDeps) {
    this.httpsAgent = new HttpsAgent({
      keepAlive: true,
      timeout: UPSTREAM_TIMEOUT_MS,
      ...(deps.upstreamCa?.length ? { ca: [...rootCertificates, ...deps.upstreamCa] } : {}),
    });
    this.http.on('request', (req, res) => this.onRequest(req, res));
    this.http.on('connect', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onConnect(req, socket, head));
    this.http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('clientError', (_err, socket: Duplex) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
  }

  /** Listens on `port` (0: any free port) on every address; resolves with the port. */
  async start(port = 0, host = '0.0.0.0'): Promise<number> {
    const server = createServer((socket) => this.onConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private onConnection(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(IDLE_MS, () => socket.destroy());
    const sandbox = this.deps.identify(socket.remoteAddress ?? '', socket.localAddress ?? '');
    if (!sandbox && !this.deps.acceptNonSandbox) {
      socket.destroy();
      return;
    }
    this.sniff(socket, { sandbox });
  }

  /** TLS or HTTP: decided by the first byte, which is put back for the real reader. */
  private sniff(socket: Socket, conn: Connection): void {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      if (chunk[0] === TLS_HANDSHAKE) this.terminateTls(socket, conn);
      else {
        this.connections.set(socket, conn);
        this.http.emit('connection', socket);
        socket.resume();
      }
    });
  }

  private terminateTls(socket: Socket, conn: Connection): void {
    // Without SNI (a CONNECT to an address), the CONNECT target names the certificate.
    const fallbackHost = conn.target?.host ?? 'no-sni.burrow.invalid';
    this.contextFor(fallbackHost).then(
      (secureContext) => {
        const tls = new TLSSocket(socket, {
          isServer: true,
          secureContext,
          ALPNProtocols: ['http/1.1'],
          SNICallback: (servername, callback) => {
            this.contextFor(servername).then((context) => callback(null, context), (e: Error) => callback(e, undefined));
          },
        });
        tls.on('error', () => socket.destroy());
        tls.once('secure', () => {
          const servername = (tls as TLSSocket & { servername?: string | false }).servername;
          const host = typeof servername === 'string' && servername ? servername.toLowerCase() : conn.target?.host;
          if (!host) {
            tls.destroy();
            return;
          }
          const port = conn.target?.port ?? this.deps.transparentPorts?.https ?? 443;
          this.connections.set(tls, { sandbox: conn.sandbox, target: { host, port, tls: true } });
          this.http.emit('connection', tls);
        });
        socket.resume();
      },
      () => socket.destroy(),
    );
  }

  private async contextFor(host: string): Promise<SecureContext> {
    const name = host.toLowerCase();
    // The name goes into a certificate: only what can be a host name or an address.
    if (!HOSTNAME.test(name) && !isIP(name)) throw new Error(`'${host.slice(0, 80)}' is not a host name`);
    const cached = this.contexts.get(name);
    if (cached) return cached;
    const leaf = await this.deps.ca.leafFor(name);
    const context = createSecureContext({ key: leaf.key, cert: leaf.cert + this.deps.ca.certPem });
    // A hostile sandbox can ask for endless names: keep the newest MAX_CONTEXTS.
    if (this.contexts.size >= MAX_CONTEXTS) this.contexts.delete(this.contexts.keys().next().value!);
    this.contexts.set(name, context);
    return context;
  }

  private onConnect(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = this.connections.get(req.socket);
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(req.url ?? '');
    if (!conn || !m || Number(m[2]) > 65535) {
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      return;
    }
    const target = { host: m[1]!.toLowerCase(), port: Number(m[2]), tls: false };
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    const raw = socket as Socket;
    if (head.length) raw.unshift(head);
    this.sniff(raw, { sandbox: conn.sandbox, target });
  }

  private destinationOf(req: IncomingMessage, conn: Connection): Destination | string {
    const url = req.url ?? '/';
    if (conn.target?.tls) {
      const hostHeader = hostnameOf(req.headers.host ?? conn.target.host);
      if (hostHeader !== conn.target.host) return `Host '${hostHeader}' does not match the TLS name '${conn.target.host}'`;
      return { host: conn.target.host, port: conn.target.port, secure: true, path: url };
    }
    if (/^https?:\/\//i.test(url)) {
      let parsed: URL;
      try {
        parsed = new URL(url);
      } catch {
        return `'${url}' is not a URL`;
      }
      const secure = parsed.protocol === 'https:';
      return {
        host: parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase(),
        port: Number(parsed.port || (secure ? 443 : 80)),
        secure,
        path: `${parsed.pathname}${parsed.search}`,
      };
    }
    const host = req.headers.host;
    if (!host) return 'the request has no Host header';
    const port = conn.target?.port ?? (Number(/:(\d+)$/.exec(host)?.[1]) || (this.deps.transparentPorts?.http ?? 80));
    return { host: hostnameOf(host), port, secure: false, path: url };
  }

  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const conn = this.connections.get(req.socket) ?? { sandbox: null };
    const dest = this.destinationOf(req, conn);
    if (typeof dest === 'string') return refuse(res, 400, dest);
    const prepared = this.prepare(req, conn, dest);
    if ('refused' in prepared) return refuse(res, prepared.status, prepared.refused);
    const { options, audit, secure } = prepared;

    const upstream = (secure ? httpsRequest : httpRequest)(options);
    upstream.setTimeout(UPSTREAM_TIMEOUT_MS, () => upstream.destroy(new Error('the upstream did not answer in time')));
    upstream.on('response', (up) => {
      const headers: string[] = [];
      for (let i = 0; i + 1 < up.rawHeaders.length; i += 2) {
        if (!HOP_BY_HOP_RESPONSE.has(up.rawHeaders[i]!.toLowerCase())) headers.push(up.rawHeaders[i]!, up.rawHeaders[i + 1]!);
      }
      res.writeHead(up.statusCode ?? 502, up.statusMessage, headers);
      up.pipe(res);
      audit?.(up.statusCode ?? null, 'injected');
    });
    upstream.on('error', (e) => {
      const blocked = e instanceof DestinationRefused;
      if (blocked) this.deps.counters?.refused('blocked');
      audit?.(null, `failed: ${e.message}`);
      if (!res.headersSent) refuse(res, blocked ? 403 : 502, blocked ? e.message : `upstream ${dest.host}: ${e.message}`);
      else res.destroy();
    });
    req.pipe(upstream);
  }

  /** Injection, policy and address checks shared by requests and upgrades. */
  private prepare(
    req: IncomingMessage,
    conn: Connection,
    dest: Destination,
    keep: string[] = [],
  ):
    | { refused: string; status: number }
    | { options: Parameters<typeof httpsRequest>[0] & object; secure: boolean; audit?: (status: number | null, outcome: string) => void } {
    const method = req.method ?? 'GET';
    const use = { sandboxId: conn.sandbox?.id ?? null, host: dest.host, method, path: dest.path, now: Date.now() };
    const event = { sandbox: conn.sandbox?.name ?? null, host: dest.host, method, path: dest.path.split('?')[0]! };
    const decision = this.deps.injector.decide(req.rawHeaders, use, keep);
    if (decision.kind === 'refuse') {
      this.deps.audit({ ...event, secret: decision.secret, status: decision.status, outcome: `refused: ${decision.reason}` });
      this.deps.counters?.refused('credential');
      return { refused: decision.reason, status: decision.status };
    }
    const policy = this.deps.policyRefusal(conn.sandbox, dest.host);
    if (policy) {
      this.deps.counters?.refused('policy');
      return { refused: policy, status: 403 };
    }
    if (isIP(dest.host)) {
      const blocked = blockedReason(this.deps.blocked, dest.host);
      if (blocked) {
        this.deps.counters?.refused('blocked');
        return { refused: blocked, status: 403 };
      }
    }
    // A credential never crosses the network in the clear: injected requests go out over TLS.
    const secure = dest.secure || decision.injected;
    const port = !dest.secure && decision.injected && dest.port === 80 ? 443 : dest.port;
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of decision.headers) {
      const existing = headers[name];
      headers[name] = existing === undefined ? value : [...(Array.isArray(existing) ? existing : [existing]), value];
    }
    const options = {
      host: dest.host,
      port,
      method,
      path: dest.path,
      headers,
      agent: keep.length ? false : secure ? this.httpsAgent : this.httpAgent,
      lookup: this.lookup,
      ...(secure && !isIP(dest.host) ? { servername: dest.host } : {}),
      ...(keep.length && secure && this.deps.upstreamCa?.length ? { ca: [...rootCertificates, ...this.deps.upstreamCa] } : {}),
    };
    const audit = decision.used.length
      ? (status: number | null, outcome: string) => {
          if (outcome === 'injected') this.deps.counters?.injected();
          for (const secret of decision.used) this.deps.audit({ ...event, secret, status, outcome });
        }
      : undefined;
    return { options: options as never, secure, ...(audit ? { audit } : {}) };
  }

  /** WebSocket and other upgrades pass through, with the same checks and injection. */
  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const conn = this.connections.get(req.socket) ?? { sandbox: null };
    const dest = this.destinationOf(req, conn);
    const fail = (status: number, message: string) => {
      socket.end(`HTTP/1.1 ${status} Refused\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n${message}\n`);
    };
    if (typeof dest === 'string') return fail(400, dest);
    const prepared = this.prepare(req, conn, dest, ['connection', 'upgrade']);
    if ('refused' in prepared) return fail(prepared.status, prepared.refused);
    const upstream = (prepared.secure ? httpsRequest : httpRequest)(prepared.options);
    upstream.on('upgrade', (res, upSocket, upHead) => {
      const lines = [`HTTP/1.1 ${res.statusCode} ${res.statusMessage}`];
      for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (upHead.length) socket.write(upHead);
      if (head.length) upSocket.write(head);
      upSocket.pipe(socket).pipe(upSocket);
      upSocket.on('error', () => socket.destroy());
      socket.on('error', () => upSocket.destroy());
      prepared.audit?.(res.statusCode ?? null, 'injected');
    });
    upstream.on('response', (res) => {
      fail(res.statusCode ?? 502, 'the upstream refused the upgrade');
      res.resume();
    });
    upstream.on('error', (e) => fail(e instanceof DestinationRefused ? 403 : 502, e.message));
    upstream.end();
  }

  /** Name resolution that never yields a blocked address (checked again after every lookup). */
  private readonly lookup = (
    hostname: string,
    options: LookupOneOptions | LookupAllOptions,
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    const resolve: Lookup =
      this.deps.lookup ?? ((name, cb) => systemLookup(name, { all: true, family: 4 }, (err, addresses) => cb(err, addresses ?? [])));
    resolve(hostname, (err, addresses) => {
      if (err) return callback(err, []);
      const allowed = addresses.filter((a) => !blockedReason(this.deps.blocked, a.address));
      if (!allowed.length) {
        const reason = addresses.length ? blockedReason(this.deps.blocked, addresses[0]!.address) : 'no addresses';
        return callback(new DestinationRefused(`${hostname} resolves to ${reason}`), []);
      }
      if (options.all) callback(null, allowed);
      else callback(null, allowed[0]!.address, allowed[0]!.family);
    });
  };
}

function hostnameOf(hostHeader: string): string {
  return hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '').toLowerCase();
}

function refuse(res: ServerResponse, status: number, message: string): void {
  const body = JSON.stringify({ error: status === 403 ? 'forbidden' : status === 400 ? 'invalid_request' : 'bad_gateway', message });
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'X-Burrow-Egress': 'refused' });
  res.end(body);
}
