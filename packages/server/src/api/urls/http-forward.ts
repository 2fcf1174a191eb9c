// Forwards one HTTP request, or one upgraded connection (WebSocket), to a server inside a
// sandbox, streaming both ways without buffering. Used by sandbox URLs; knows nothing of auth.
import { Agent, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { Duplex } from 'node:stream';

export interface Target {
  host: string;
  port: number;
}

/** Headers that describe one hop, not the message (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer',
  'transfer-encoding', 'upgrade',
]);

/** Connections to sandboxes are reused: a new TCP handshake per request costs more than the proxy. */
const agent = new Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 32, timeout: 60_000 });

export interface ForwardOptions {
  /** The request's headers as they should reach the sandbox (auth already stripped). */
  headers: IncomingHttpHeaders;
  /** Called when nothing answered on the target; must send the response. */
  onUnreachable(res: ServerResponse, err: NodeJS.ErrnoException): void;
}

export function forwardRequest(req: IncomingMessage, res: ServerResponse, target: Target, opts: ForwardOptions): void {
  const upstream = request({
    host: target.host,
    port: target.port,
    method: req.method,
    path: req.url,
    headers: endToEnd(opts.headers),
    agent,
  });
  // Nagle would hold small writes back for the peer's delayed ACK (40 ms) on reused connections.
  upstream.on('socket', (socket) => socket.setNoDelay(true));
  upstream.on('response', (answer) => {
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(answer.headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    res.writeHead(answer.statusCode ?? 502, answer.statusMessage, headers);
    answer.pipe(res);
    answer.on('error', () => res.destroy());
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (!res.headersSent) opts.onUnreachable(res, err);
    else res.destroy();
  });
  res.on('close', () => {
    if (!res.writableFinished) upstream.destroy();
  });
  req.pipe(upstream);
}

/** Relays an upgrade (WebSocket): replays the request head upstream, then bytes both ways. */
export function forwardUpgrade(
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  target: Target,
  opts: { headers: IncomingHttpHeaders; onUnreachable(err: NodeJS.ErrnoException): void },
): void {
  const upstream = connect(target.port, target.host);
  upstream.setNoDelay(true);
  let connected = false;
  upstream.once('connect', () => {
    connected = true;
    const lines = [`${req.method} ${req.url} HTTP/1.1`];
    for (const [k, v] of Object.entries(opts.headers)) {
      if (v === undefined) continue;
      for (const value of Array.isArray(v) ? v : [v]) lines.push(`${k}: ${value}`);
    }
    upstream.write(lines.join('\r\n') + '\r\n\r\n');
    if (head.length) upstream.write(head);
    socket.pipe(upstream).pipe(socket);
  });
  upstream.on('error', (err: NodeJS.ErrnoException) => {
    if (!connected) opts.onUnreachable(err);
    socket.destroy();
  });
  socket.on('error', () => upstream.destroy());
  socket.on('close', () => upstream.destroy());
  upstream.on('close', () => socket.destroy());
}

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [k, v] of Object.entries(headers)) if (!HOP_BY_HOP.has(k) && v !== undefined) out[k] = v;
  return out;
}

/**
 * Resolves once something accepts TCP connections on `target`, or after `timeoutMs` (then the
 * caller's own attempt reports what is wrong). For a sandbox that was just woken: its services
 * are still starting when the container is up.
 */
export async function waitForListener(target: Target, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const open = await new Promise<boolean>((resolve) => {
      const probe = connect(target.port, target.host);
      probe.setTimeout(1_000, () => probe.destroy(new Error('timeout')));
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (open) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
