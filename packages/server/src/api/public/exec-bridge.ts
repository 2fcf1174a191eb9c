// Connects a process inside a sandbox to an exec WebSocket in the non-TTY framing of spec 3.2:
// binary frames whose first byte is the stream id. Output flows with backpressure (a slow client
// pauses the process's pipes instead of growing server memory), every stdout/stderr frame goes
// before the exit frame, and silence is broken by empty frames so JS clients don't time out.
import type { WebSocket } from 'ws';
import { signalFromMessage } from '../../core/exit-codes.js';
import type { ExecHandle } from '../../core/sandbox-manager.js';

export const STREAM = { stdin: 0, stdout: 1, stderr: 2, exit: 3, stdinEof: 4 } as const;

/** Bytes queued in the socket before the process's output is paused. */
const HIGH_WATER = 1 << 20;
const KEEPALIVE_MS = 20_000;

export interface BridgeOptions {
  /** How long the process may outlive a disconnected client; 0 means forever. */
  maxRunAfterDisconnectMs: number;
  acceptStdin: boolean;
}

/**
 * Call synchronously in the WebSocket handler: messages that arrive while the process is still
 * starting are queued, not lost.
 */
export function bridgeExecSocket(
  socket: WebSocket,
  starting: Promise<ExecHandle>,
  opts: BridgeOptions,
): void {
  const early: Array<[Buffer, boolean]> = [];
  const queueEarly = (data: Buffer, isBinary: boolean) => early.push([data, isBinary]);
  socket.on('message', queueEarly);
  starting.then(
    (handle) => {
      socket.off('message', queueEarly);
      attach(socket, handle, opts, early);
    },
    (e: Error) => {
      if (socket.readyState !== socket.OPEN) return;
      socket.send(Buffer.concat([Buffer.of(STREAM.stderr), Buffer.from(`burrow: ${e.message}\n`)]));
      socket.send(Buffer.of(STREAM.exit, 1));
      socket.close(1000);
    },
  );
}

function attach(
  socket: WebSocket,
  handle: ExecHandle,
  opts: BridgeOptions,
  early: Array<[Buffer, boolean]>,
): void {
  const { child } = handle;
  let queued = 0;
  let lastSent = Date.now();
  const paused = new Set<NodeJS.ReadableStream>();

  const send = (frame: Buffer) => {
    if (socket.readyState !== socket.OPEN) return;
    queued += frame.length;
    lastSent = Date.now();
    socket.send(frame, { binary: true }, () => {
      queued -= frame.length;
      if (queued < HIGH_WATER / 2) for (const s of paused) s.resume();
      if (queued < HIGH_WATER / 2) paused.clear();
    });
  };

  const forward = (stream: NodeJS.ReadableStream, id: number) => {
    stream.on('data', (chunk: Buffer) => {
      send(Buffer.concat([Buffer.of(id), chunk]));
      if (queued > HIGH_WATER) {
        stream.pause();
        paused.add(stream);
      }
    });
  };
  forward(child.stdout, STREAM.stdout);
  forward(child.stderr, STREAM.stderr);
  child.stdin.on('error', () => {}); // the process may exit without reading its input

  const keepalive = setInterval(() => {
    if (Date.now() - lastSent >= KEEPALIVE_MS) send(Buffer.alloc(0));
  }, KEEPALIVE_MS / 2);

  const onMessage = (data: Buffer, isBinary: boolean) => {
    if (!isBinary) {
      const signal = signalFromMessage(data.toString());
      if (signal) handle.signal(signal).catch(() => {}); // the process may have exited already
      return;
    }
    if (data.length === 0) return;
    if (data[0] === STREAM.stdin && opts.acceptStdin) child.stdin.write(data.subarray(1));
    else if (data[0] === STREAM.stdinEof) child.stdin.end();
  };
  for (const [data, isBinary] of early) onMessage(data, isBinary);
  socket.on('message', onMessage);

  let disconnectTimer: NodeJS.Timeout | undefined;
  socket.on('close', () => {
    clearInterval(keepalive);
    for (const s of paused) s.resume(); // nobody reads any more: let the process drain and finish
    child.stdout.removeAllListeners('data').resume();
    child.stderr.removeAllListeners('data').resume();
    if (child.exitCode !== null || child.signalCode !== null) return;
    if (opts.maxRunAfterDisconnectMs === 0) return;
    disconnectTimer = setTimeout(() => void handle.signal('SIGKILL').catch(() => {}), opts.maxRunAfterDisconnectMs);
  });

  // `exited` settles after the process exited and its stdout/stderr ended: all output is sent.
  void handle.exited.then(({ exitCode, notice }) => {
    clearInterval(keepalive);
    clearTimeout(disconnectTimer);
    if (notice) send(Buffer.concat([Buffer.of(STREAM.stderr), Buffer.from(notice)]));
    send(Buffer.of(STREAM.exit, exitCode));
    if (socket.readyState === socket.OPEN) socket.close(1000);
  });
  child.on('error', (e) => {
    send(Buffer.concat([Buffer.of(STREAM.stderr), Buffer.from(`burrow: ${e.message}\n`)]));
  });
}
