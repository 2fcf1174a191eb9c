/**
 * The exec WebSocket itself (spec §3.1), whatever runs over it: its URL for a new command or an
 * attach, opening it with the bearer token, turning a refused upgrade into the server's error,
 * and reading its text frames and close codes.
 */
import type { IncomingMessage } from 'node:http';
import WebSocket from 'ws';
import { BurrowError } from './errors.js';
import type { HttpApi } from './http.js';
import type { SessionInfoMessage } from '@burrow/protocol';

/** Covers waking a cold sandbox; without it a server that never answers hangs us forever. */
const HANDSHAKE_TIMEOUT_MS = 30_000;

/** A text frame as handed to callers: JSON objects parsed, anything else as the string it was. */
export type ExecMessage = { type: string; [field: string]: unknown } | string;

/** A frame read before anyone could interpret it, kept to be replayed in order. */
export type ReceivedFrame = [data: Buffer, isBinary: boolean];

export interface ExecQuery {
  /** argv, starting with argv[0]; absent on attach, which runs nothing new. */
  argv?: string[];
  env?: Record<string, string> | undefined;
  cwd?: string | undefined;
  stdin: boolean;
  /** Present for a TTY; a size the caller left out is the server's default (24x80). */
  tty?: { rows?: number | undefined; cols?: number | undefined } | undefined;
  detachable?: boolean;
  /** A Go-style duration such as `30s`. */
  maxRunAfterDisconnect?: string | undefined;
}

/** `/exec` for a new command, `/exec/{id}` to attach to a session (spec §3.1, §3.8). */
export function execURL(api: HttpApi, sandboxName: string, q: ExecQuery, sessionId?: string): string {
  const query = new URLSearchParams();
  if (q.argv && q.argv.length > 0) {
    for (const arg of q.argv) query.append('cmd', arg);
    query.set('path', q.argv[0] ?? '');
  }
  query.set('stdin', String(q.stdin));
  for (const [key, value] of Object.entries(q.env ?? {})) query.append('env', `${key}=${value}`);
  if (q.cwd !== undefined) query.set('dir', q.cwd);
  if (q.tty) {
    query.set('tty', 'true');
    if (q.tty.rows !== undefined) query.set('rows', String(q.tty.rows));
    if (q.tty.cols !== undefined) query.set('cols', String(q.tty.cols));
  }
  if (q.detachable) query.set('detachable', 'true');
  if (q.maxRunAfterDisconnect !== undefined) query.set('max_run_after_disconnect', q.maxRunAfterDisconnect);
  const session = sessionId === undefined ? '' : `/${encodeURIComponent(sessionId)}`;
  return api.websocketURL(`/v1/sprites/${encodeURIComponent(sandboxName)}/exec${session}`, query);
}

export function openExecSocket(api: HttpApi, url: string): WebSocket {
  return new WebSocket(url, {
    headers: api.authHeaders(),
    perMessageDeflate: false,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
}

/**
 * The error a refused upgrade stands for: the server's own, read from the response body the
 * way every other call reads it (spec §1 asks servers to refuse with a plain HTTP error).
 */
export function refusalError(api: HttpApi, response: IncomingMessage): Promise<Error> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    response.on('data', (chunk: Buffer) => chunks.push(chunk));
    response.on('error', (err) => resolve(api.connectionError(err)));
    response.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const retryAfter = response.headers['retry-after'];
      resolve(BurrowError.fromResponse(response.statusCode ?? 500, body, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter));
    });
  });
}

export function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

export function parseTextFrame(data: Buffer): ExecMessage {
  const text = data.toString('utf8');
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { type?: unknown }).type === 'string') {
      return parsed as { type: string };
    }
  } catch {
    // Not JSON: callers get the text as it came (spec §3.4).
  }
  return text;
}

/** A session_info frame with its id as a string, whichever type the server chose (spec §3.4). */
export function asSessionInfo(message: ExecMessage): SessionInfoMessage | undefined {
  if (typeof message === 'string' || message.type !== 'session_info') return undefined;
  const info = message as unknown as SessionInfoMessage;
  // Without a tty field the JS SDK assumes a terminal (spec §3.8); so do we.
  return { ...info, session_id: String(info.session_id), tty: info.tty !== false };
}

/**
 * A TTY command's exit code from the close code alone, when no exit message came (spec §3.5):
 * 1000 is success, 4000+N is exit code N, anything else is a failure the server did not detail.
 */
export function exitCodeFromClose(code: number): number {
  if (code === 1000) return 0;
  if (code >= 4000 && code <= 4255) return code - 4000;
  return 1;
}

/** What ws reports when the connection ended without any close frame from the server. */
export const CLOSED_WITHOUT_FRAME = 1006;
