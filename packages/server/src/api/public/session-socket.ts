// One WebSocket attached to an exec session (spec 3.3-3.8): `session_info` first, then the
// scrollback framed like live output, then live output; raw bytes both ways in TTY mode, stream-id
// frames otherwise. A client whose queue is full pauses the command rather than growing memory.
import type { WebSocket } from 'ws';
import { signalFromMessage } from '../../core/exit-codes.js';
import type { OutputChunk } from '../../core/scrollback.js';
import type { Session, SessionClient } from '../../core/sessions.js';
import { STREAM } from './exec-bridge.js';

const HIGH_WATER = 1 << 20;
const KEEPALIVE_MS = 20_000;
const MAX_TERMINAL_SIZE = 1000;

/**
 * Installs a queue at once (call it synchronously in the WebSocket handler) and returns the
 * function that attaches the socket once the session exists.
 */
export function prepareSessionSocket(socket: WebSocket): (session: Session) => void {
  const early: Array<[Buffer, boolean]> = [];
  const queue = (data: Buffer, isBinary: boolean) => early.push([data, isBinary]);
  socket.on('message', queue);
  return (session) => {
    socket.off('message', queue);
    attachSessionSocket(socket, session, early);
  };
}

function attachSessionSocket(socket: WebSocket, session: Session, early: Array<[Buffer, boolean]>): void {
  const { tty } = session.info;
  let lastSent = Date.now();

  const send = (data: Buffer | string, binary: boolean) => {
    if (socket.readyState !== socket.OPEN) return;
    lastSent = Date.now();
    socket.send(data, { binary }, () => {
      if (socket.bufferedAmount < HIGH_WATER / 2) session.resumeIfClear();
    });
  };

  const client: SessionClient = {
    output: (chunk: OutputChunk) => send(tty ? chunk.data : Buffer.concat([Buffer.of(chunk.stream), chunk.data]), true),
    exited: (code) => {
      if (tty) {
        send(JSON.stringify({ type: 'exit', exit_code: code }), false);
        // Spec 3.5: JS reads the exit code from the close code alone.
        socket.close(code === 0 ? 1000 : 4000 + code);
      } else {
        send(Buffer.of(STREAM.exit, code), true);
        socket.close(1000);
      }
    },
    congested: () => socket.bufferedAmount > HIGH_WATER,
  };

  const info = session.info;
  send(
    JSON.stringify({
      type: 'session_info',
      session_id: info.id,
      command: info.command.join(' '),
      created: Math.floor(info.created.getTime() / 1000),
      cols: info.cols,
      rows: info.rows,
      is_owner: true,
      tty,
    }),
    false,
  );

  const onMessage = (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      if (tty) session.write(data);
      else if (data[0] === STREAM.stdin) session.write(data.subarray(1));
      else if (data[0] === STREAM.stdinEof) session.endInput();
      return;
    }
    const text = data.toString();
    const signal = signalFromMessage(text);
    if (signal) {
      void session.handle.signal(signal).catch(() => {});
      return;
    }
    const resize = parseResize(text);
    if (resize === null) return;
    if (typeof resize === 'string') send(JSON.stringify({ type: 'error', message: resize }), false);
    else if (tty && session.active) void session.handle.resize(resize.rows, resize.cols).catch(() => {});
  };

  const keepalive = setInterval(() => {
    if (Date.now() - lastSent >= KEEPALIVE_MS) send(Buffer.alloc(0), true);
  }, KEEPALIVE_MS / 2);
  socket.on('close', () => {
    clearInterval(keepalive);
    session.detach(client);
  });

  session.attach(client);
  for (const [data, isBinary] of early) onMessage(data, isBinary);
  socket.on('message', onMessage);
}

/** A resize message's size; an error text for nonsense sizes; null for other messages. */
function parseResize(text: string): { rows: number; cols: number } | string | null {
  let msg: { type?: unknown; rows?: unknown; cols?: unknown };
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (msg?.type !== 'resize') return null;
  const ok = (n: unknown): n is number => Number.isInteger(n) && (n as number) >= 1 && (n as number) <= MAX_TERMINAL_SIZE;
  if (!ok(msg.rows) || !ok(msg.cols)) {
    return `ignored resize to ${String(msg.cols)}x${String(msg.rows)}: rows and cols must be whole numbers from 1 to ${MAX_TERMINAL_SIZE}`;
  }
  return { rows: msg.rows, cols: msg.cols };
}
