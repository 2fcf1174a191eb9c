// port_opened / port_closed text frames on exec WebSockets (spec §3.4): while an exec or session
// socket is open, every port the sandbox starts or stops listening on is reported to it.
import type { WebSocket } from 'ws';
import type { PortWatchers } from '../../network/port-watcher.js';

const EXIT_FRAME = 3;

export function sendPortNotices(socket: WebSocket, ports: PortWatchers, sandboxId: string): void {
  let stop: (() => void) | undefined;
  let ended = false;
  const end = () => {
    ended = true;
    stop?.();
  };
  socket.on('close', end);
  // Nothing may follow the exit frame or the exit message (the SDKs drop or choke on it), so
  // notices end when the socket carries either.
  const send = socket.send.bind(socket) as (data: unknown, ...rest: unknown[]) => void;
  socket.send = ((data: unknown, ...rest: unknown[]) => {
    if (isExit(data)) end();
    send(data, ...rest);
  }) as typeof socket.send;
  ports
    .watch(sandboxId, (e) => {
      if (ended || socket.readyState !== socket.OPEN) return;
      send(JSON.stringify({ type: e.event, port: e.port, address: e.address, pid: e.pid }));
    })
    .then(
      (w) => {
        stop = w.stop;
        if (ended) stop();
      },
      () => {},
    );
}

function isExit(data: unknown): boolean {
  if (Buffer.isBuffer(data)) return data.length === 2 && data[0] === EXIT_FRAME;
  return typeof data === 'string' && data.startsWith('{"type":"exit"');
}
