// The TCP proxy (spec §9): one WebSocket per TCP connection to a port inside the sandbox. The
// client names the target in a first text frame; after `{"status":"connected"}` binary frames
// carry the bytes both ways. Only the sandbox's own ports can be targets: the connection goes
// to the sandbox's address, where it lands on 127.0.0.1 inside (see network/veth.ts).
import { tcpProxyInitMessage as initMessage, type TcpProxyInit } from '@burrow/protocol';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { connect } from 'node:net';
import { createWebSocketStream, type RawData, type WebSocket } from 'ws';
import { ApiError } from '../../errors.js';
import { validName } from '../../../core/names.js';
import type { SandboxManager } from '../../../core/sandbox-manager.js';
import type { Target } from '../../urls/http-forward.js';

type NameParams = { Params: { name: string } };

const INIT_TIMEOUT_MS = 10_000;
const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '']);

export interface ProxyRouteDeps {
  manager: SandboxManager;
  /** Where the host reaches a port inside the sandbox (its localhost). */
  proxyTarget(name: string, port: number): Target | undefined;
}

export function proxyRoutes(deps: ProxyRouteDeps): FastifyPluginAsync {
  const { manager } = deps;
  return async (app) => {
    app.route<NameParams>({
      method: 'GET',
      url: '/v1/sprites/:name/proxy',
      preHandler: async (req: FastifyRequest<NameParams>) => {
        validName(req.params.name);
        if (req.headers.upgrade?.toLowerCase() !== 'websocket') {
          manager.get(req.params.name);
          throw new ApiError('invalid_request', 'the TCP proxy is a WebSocket: send Upgrade: websocket');
        }
        await manager.ensureRunning(req.params.name);
      },
      handler: async () => ({}),
      wsHandler: (socket, req) => relay(socket, req.params.name, deps),
    });
  };
}

function relay(socket: WebSocket, name: string, deps: ProxyRouteDeps): void {
  const refuse = (message: string) => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify({ status: 'error', message }));
    socket.close(1008, message.slice(0, 120));
  };
  const timer = setTimeout(() => refuse('no {"host","port"} message within 10 s'), INIT_TIMEOUT_MS);
  socket.once('message', (data: RawData) => {
    clearTimeout(timer);
    let init: TcpProxyInit;
    try {
      init = initMessage.parse(JSON.parse(data.toString()));
    } catch {
      return refuse('the first message must be {"host":"localhost","port":N}');
    }
    const host = (init.host ?? 'localhost').toLowerCase();
    if (!LOCAL_HOSTS.has(host) && host !== name) {
      return refuse(`only ports inside sandbox '${name}' can be reached; use host "localhost"`);
    }
    const target = deps.proxyTarget(name, init.port);
    if (!target) return refuse(`sandbox '${name}' has no network address`);
    // Frames that arrive before the reply are held, then replayed into the connection.
    const early: Buffer[] = [];
    const hold = (chunk: RawData) => early.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as ArrayBuffer));
    socket.on('message', hold);
    const tcp = connect(target.port, target.host);
    tcp.setNoDelay(true);
    tcp.once('error', (err: NodeJS.ErrnoException) => {
      socket.off('message', hold);
      refuse(`nothing is listening on port ${init.port} in sandbox '${name}' (${err.code ?? err.message})`);
    });
    tcp.once('connect', () => {
      socket.off('message', hold);
      socket.send(JSON.stringify({ status: 'connected', target: `${host || 'localhost'}:${init.port}` }));
      for (const chunk of early) tcp.write(chunk);
      const stream = createWebSocketStream(socket);
      stream.on('error', () => tcp.destroy());
      tcp.on('error', () => stream.destroy());
      stream.pipe(tcp).pipe(stream);
    });
    socket.on('close', () => tcp.destroy());
  });
}
