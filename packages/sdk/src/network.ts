/**
 * Reaching into a sandbox's network: a TCP connection to one of its ports through the proxy
 * WebSocket (spec §9), and the live list of ports it listens on (spec §10, port watch).
 */
import type { Duplex } from 'node:stream';
import WebSocket, { createWebSocketStream } from 'ws';
import { BurrowError } from './errors.js';
import type { HttpApi } from './http.js';

const CONNECT_TIMEOUT_MS = 30_000;

export interface ListeningPort {
  type: string;
  port: number;
  address: string;
  pid: number;
}

export type PortEvent = ListeningPort & { type: 'port_opened' | 'port_closed' };

/** Rejects an upgrade the server refused with the server's own error. */
function onRefusal(ws: WebSocket, reject: (err: Error) => void): void {
  ws.on('unexpected-response', (_req, response) => {
    const chunks: Buffer[] = [];
    response.on('data', (c: Buffer) => chunks.push(c));
    response.on('end', () => {
      reject(BurrowError.fromResponse(response.statusCode ?? 500, Buffer.concat(chunks).toString('utf8'), null));
      ws.terminate();
    });
  });
}

/** A byte stream to `host:port` inside the sandbox (host is its localhost by default). */
export function openTcpProxy(api: HttpApi, sandbox: string, port: number, host = 'localhost'): Promise<Duplex> {
  const ws = new WebSocket(api.websocketURL(`/v1/sprites/${encodeURIComponent(sandbox)}/proxy`, new URLSearchParams()), {
    headers: api.authHeaders(),
    perMessageDeflate: false,
    handshakeTimeout: CONNECT_TIMEOUT_MS,
  });
  return new Promise((resolve, reject) => {
    let done = false;
    const fail = (err: Error) => {
      if (done) return;
      done = true;
      reject(err);
      ws.terminate();
    };
    onRefusal(ws, fail);
    ws.on('error', (err) => fail(api.connectionError(err)));
    ws.on('close', (code, reason) => fail(new BurrowError('unavailable', reason.toString() || `the proxy closed (code ${code})`, { status: 503 })));
    ws.on('open', () => ws.send(JSON.stringify({ host, port })));
    ws.once('message', (data, isBinary) => {
      let reply: { status?: string; message?: string } = {};
      try {
        reply = isBinary ? {} : (JSON.parse(data.toString()) as typeof reply);
      } catch {
        // not JSON: a refusal below
      }
      if (reply.status !== 'connected') return fail(new BurrowError('unavailable', reply.message ?? `cannot reach ${host}:${port} in ${sandbox}`, { status: 503 }));
      done = true;
      ws.removeAllListeners('close');
      resolve(createWebSocketStream(ws));
    });
  });
}

/** Made by `sandbox.watchPorts()`. */
export class PortWatcher {
  /** The ports listened on when the watch began. */
  readonly ready: Promise<ListeningPort[]>;
  private readonly ws: WebSocket;

  constructor(api: HttpApi, sandbox: string, onEvent: (event: PortEvent) => void) {
    this.ws = new WebSocket(api.websocketURL(`/v1/sprites/${encodeURIComponent(sandbox)}/ports/watch`, new URLSearchParams()), {
      headers: api.authHeaders(),
      perMessageDeflate: false,
      handshakeTimeout: CONNECT_TIMEOUT_MS,
    });
    this.ready = new Promise((resolve, reject) => {
      onRefusal(this.ws, reject);
      this.ws.on('error', (err) => reject(api.connectionError(err)));
      this.ws.on('close', () => reject(new BurrowError('unavailable', 'the port watch closed', { status: 503 })));
      this.ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        const message = JSON.parse(data.toString()) as { type: string; ports?: ListeningPort[] } & ListeningPort;
        if (message.type === 'port_list') resolve(message.ports ?? []);
        else if (message.type === 'port_opened' || message.type === 'port_closed') onEvent(message as PortEvent);
      });
    });
    this.ready.catch(() => {});
  }

  close(): void {
    this.ws.close(1000);
  }
}
