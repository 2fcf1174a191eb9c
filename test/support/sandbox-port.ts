// A port inside a sandbox as a local address, the way `burrow proxy` offers it: a listener on
// 127.0.0.1 whose every connection is relayed through the TCP proxy WebSocket (spec §9), so
// that plain HTTP clients (fetch) reach a server that listens on the sandbox's localhost.
import { createServer, type Server, type Socket } from 'node:net';
import type { Sandbox } from '@burrow/sdk';
import { until } from './until.js';

export interface LocalPort {
  /** `http://127.0.0.1:<local port>` */
  url: string;
  close(): Promise<void>;
}

export async function localPortTo(sandbox: Sandbox, port: number): Promise<LocalPort> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.pause();
    sandbox.openTcpProxy(port).then(
      (remote) => {
        remote.on('error', () => socket.destroy());
        socket.on('error', () => remote.destroy());
        socket.once('close', () => remote.destroy());
        remote.once('close', () => socket.destroy());
        socket.pipe(remote).pipe(socket);
        socket.resume();
      },
      () => socket.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the local listener has no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/**
 * The raw answer to `GET /` (HTTP/1.0) from a server in the sandbox on `port`, through the TCP
 * proxy, once one answers: a server just started in a slow guest may take seconds to listen.
 */
export function pageThroughProxy(sandbox: Sandbox, port: number): Promise<string> {
  return until(`${sandbox.name} to serve on port ${port}`, async () => {
    const stream = await sandbox.openTcpProxy(port).catch(() => null);
    if (!stream) return '';
    stream.write('GET / HTTP/1.0\r\n\r\n');
    let text = '';
    for await (const chunk of stream) text += (chunk as Buffer).toString();
    return text;
  }, { timeoutMs: 60_000, intervalMs: 1000 });
}
