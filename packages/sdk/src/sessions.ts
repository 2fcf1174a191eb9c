/**
 * Detachable sessions (spec §3.8-§3.10): commands that outlive the connection that started
 * them. Starting one, attaching to one by id (its scrollback first, then live output), listing
 * them, and killing one. `Sandbox` exposes these as methods.
 */
import type WebSocket from 'ws';
import { durationMs, durationParam } from '@burrow/protocol';
import { BurrowError } from './errors.js';
import { SandboxProcess } from './exec.js';
import { SESSION_INFO_TIMEOUT_MS, type ExecHandle } from './exec-handle.js';
import {
  asSessionInfo,
  execURL,
  openExecSocket,
  parseTextFrame,
  refusalError,
  toBuffer,
  type ReceivedFrame,
} from './exec-socket.js';
import type { HttpApi } from './http.js';
import { TerminalProcess } from './tty.js';
import type { ExecSessionSummary, KillEvent, ListSessionsResponse } from '@burrow/protocol';

/** HttpApi's usual limit, on top of the time a kill may legitimately take. */
const KILL_REPLY_MARGIN_MS = 30_000;
/** The server's default wait before SIGKILL, and its wait after it. */
const SERVER_KILL_TIMEOUT_MS = 10_000;
const SERVER_SIGKILL_WAIT_MS = 5_000;

/** A handle whose session_info has arrived, so its id is known. */
export type Attached<T extends ExecHandle> = T & { readonly sessionId: string };

/** What `attachSession` returns: its `tty` field says which framing the session has. */
export type SessionProcess = Attached<TerminalProcess> | Attached<SandboxProcess>;

export interface SessionOptions {
  /** On a terminal (the default, as in the Sprites SDK), or with separate stdout and stderr. */
  tty?: boolean;
  /** The terminal's size; the server's default is 24x80. */
  rows?: number;
  cols?: number;
  /**
   * How long the command may run with nobody attached: a Go-style duration (`30s`, `5m`) or
   * milliseconds. `0` means forever. Server defaults: forever on a terminal, 10 s without.
   */
  maxRunAfterDisconnect?: string | number;
  /** When given, replaces the sandbox's default environment (spec §3.1). */
  env?: Record<string, string>;
  cwd?: string;
  /** Non-TTY only: false sends stdin EOF at once. Default true. */
  stdin?: boolean;
  /** Aborting sends SIGKILL, drops the connection and fails the handle with the abort reason. */
  signal?: AbortSignal;
}

export interface KillSessionOptions {
  /** Default SIGTERM (the server's default too). */
  signal?: string;
  /** How long the server waits for the exit before SIGKILL: a Go-style duration or milliseconds. Server default 10 s. */
  timeout?: string | number;
  /** Each progress line as it arrives: signal, timeout, exited, killed, error, complete. */
  onEvent?: (event: KillEvent) => void;
}

/**
 * Starts a detachable session and resolves once the server has named it (session_info),
 * within 10 s of the socket opening.
 */
export async function createSession(
  api: HttpApi,
  sandboxName: string,
  cmd: string,
  args: string[],
  options: SessionOptions,
): Promise<SessionProcess> {
  const tty = options.tty !== false;
  const url = execURL(api, sandboxName, {
    argv: [cmd, ...args],
    env: options.env,
    cwd: options.cwd,
    stdin: tty || options.stdin !== false,
    tty: tty ? { rows: options.rows, cols: options.cols } : undefined,
    detachable: true,
    maxRunAfterDisconnect: options.maxRunAfterDisconnect === undefined ? undefined : durationParam(options.maxRunAfterDisconnect),
  });
  const handleOptions = { signal: options.signal };
  const handle = tty
    ? new TerminalProcess(api, sandboxName, { url }, handleOptions)
    : new SandboxProcess(api, sandboxName, { url }, { ...handleOptions, ...(options.stdin === undefined ? {} : { stdin: options.stdin }) });
  try {
    await handle.waitForSession();
  } catch (err) {
    // Whatever the server started keeps its own max_run_after_disconnect.
    void handle.detach();
    throw err;
  }
  return handle as SessionProcess;
}

/**
 * Attaches to a session by id: waits up to 10 s for its session_info, whose `tty` field decides
 * the framing of all that follows, then hands over a handle that first replays the scrollback,
 * then carries live output. A session that has already ended replays its output and exits at
 * once. An unknown id rejects with a 404 BurrowError.
 */
export function attachSession(api: HttpApi, sandboxName: string, id: string): Promise<SessionProcess> {
  const socket = openExecSocket(api, execURL(api, sandboxName, { stdin: true }, id));
  return new Promise<SessionProcess>((resolve, reject) => {
    // Frames before session_info are kept and replayed under the framing it announces.
    const early: ReceivedFrame[] = [];
    let timer: NodeJS.Timeout | undefined;
    let settled = false;

    const listeners = {
      message: (data: WebSocket.RawData, isBinary: boolean): void => {
        const frame = toBuffer(data);
        const info = isBinary ? undefined : asSessionInfo(parseTextFrame(frame));
        if (!info) {
          early.push([frame, isBinary]);
          return;
        }
        // Synchronously, inside this event: the handle's own listener must be in place
        // before ws delivers the next frame.
        done();
        const connection = { socket, info, early };
        resolve(
          (info.tty ? new TerminalProcess(api, sandboxName, connection) : new SandboxProcess(api, sandboxName, connection)) as SessionProcess,
        );
      },
      open: (): void => {
        timer = setTimeout(
          () => giveUp(new BurrowError('unavailable', `session '${id}' in sandbox '${sandboxName}' sent no session_info within ${SESSION_INFO_TIMEOUT_MS / 1000} s`)),
          SESSION_INFO_TIMEOUT_MS,
        );
      },
      'unexpected-response': (_request: unknown, response: Parameters<typeof refusalError>[1]): void => {
        void refusalError(api, response).then(giveUp);
      },
      error: (err: Error): void => giveUp(api.connectionError(err)),
      close: (code: number): void =>
        giveUp(new BurrowError('unavailable', `session '${id}' in sandbox '${sandboxName}' closed the connection (code ${code}) before its session_info`)),
    };

    const done = (): void => {
      settled = true;
      clearTimeout(timer);
      for (const [event, listener] of Object.entries(listeners)) socket.off(event, listener as (...args: unknown[]) => void);
    };
    const giveUp = (err: Error): void => {
      if (settled) return;
      done();
      // Tearing the socket down raises errors of its own; the first reason is the one reported.
      socket.on('error', () => {});
      socket.terminate();
      reject(err);
    };

    socket.on('message', listeners.message);
    socket.once('open', listeners.open);
    socket.on('unexpected-response', listeners['unexpected-response']);
    socket.on('error', listeners.error);
    socket.on('close', listeners.close);
  });
}

/** The sandbox's sessions, running and recently ended, with string ids. */
export async function listSessions(api: HttpApi, sandboxName: string): Promise<ExecSessionSummary[]> {
  const body = await api.json<ListSessionsResponse>('GET', `${sandboxPath(sandboxName)}/exec`);
  return (body.sessions ?? []).map((session) => ({ ...session, id: String(session.id) }));
}

/**
 * Signals a session and waits for it to end, escalating to SIGKILL after `timeout` (spec
 * §3.10). Resolves with its exit code. A session that has already ended rejects with a
 * BurrowError of status 410; an unknown one with 404.
 */
export async function killSession(api: HttpApi, sandboxName: string, id: string, options: KillSessionOptions = {}): Promise<number> {
  const query = new URLSearchParams();
  if (options.signal !== undefined) query.set('signal', options.signal);
  if (options.timeout !== undefined) query.set('timeout', durationParam(options.timeout));
  const wait = (options.timeout === undefined ? SERVER_KILL_TIMEOUT_MS : durationMs(options.timeout)) ?? SERVER_KILL_TIMEOUT_MS;
  const response = await api.send('POST', `${sandboxPath(sandboxName)}/exec/${encodeURIComponent(id)}/kill`, {
    query,
    // A stream has no timeout of its own (spec §0); this one is bounded by the kill's own waits.
    timeoutMs: KILL_REPLY_MARGIN_MS + wait + SERVER_SIGKILL_WAIT_MS,
  });

  let exitCode: number | undefined;
  let failure: string | undefined;
  for await (const event of ndjson(response)) {
    options.onEvent?.(event);
    if (event.type === 'error') failure = event.message ?? 'no detail';
    if (typeof event.exit_code === 'number') exitCode = event.exit_code;
  }
  if (exitCode !== undefined) return exitCode;
  throw new BurrowError(
    'internal',
    failure === undefined
      ? `burrow finished killing session '${id}' in sandbox '${sandboxName}' without reporting an exit: it may still be running`
      : `killing session '${id}' in sandbox '${sandboxName}' failed: ${failure}`,
  );
}

/** NDJSON lines as the JS SDK reads them: blank and malformed lines are skipped (spec §0). */
async function* ndjson(response: Response): AsyncGenerator<KillEvent> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let pending = '';
  const parse = (line: string): KillEvent | undefined => {
    try {
      const value: unknown = JSON.parse(line);
      return typeof value === 'object' && value !== null && typeof (value as KillEvent).type === 'string' ? (value as KillEvent) : undefined;
    } catch {
      return undefined;
    }
  };
  for await (const chunk of response.body) {
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const event = line.trim() ? parse(line) : undefined;
      if (event) yield event;
    }
  }
  pending += decoder.decode();
  const last = pending.trim() ? parse(pending) : undefined;
  if (last) yield last;
}

function sandboxPath(sandboxName: string): string {
  return `/v1/sprites/${encodeURIComponent(sandboxName)}`;
}
