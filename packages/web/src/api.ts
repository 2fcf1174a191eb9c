// The dashboard's client for the burrow API. The session cookie authenticates every call; calls
// that change something carry X-Burrow-CSRF, which the server requires with cookie auth.
import { offline, Problem, problemFrom } from './problem';

// The wire shapes are the protocol's; the dashboard only reads them (type imports, nothing bundled).
export type { Checkpoint, ListSpritesResponse, Sprite } from '@burrow/protocol';

/** One NDJSON line of a checkpoint, restore or service stream, read loosely: the log shows any. */
export interface StreamEvent {
  type: string;
  data?: string;
  error?: string;
  [key: string]: unknown;
}

export const enc = encodeURIComponent;

export class Api {
  /** Called once when the server says the session is no longer valid. */
  onUnauthorized: () => void = () => {};

  async call(method: string, path: string, body?: unknown, accept = 'application/json'): Promise<Response> {
    const headers: Record<string, string> = { Accept: accept };
    if (method !== 'GET' && method !== 'HEAD') headers['X-Burrow-CSRF'] = '1';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'same-origin' });
    } catch {
      throw offline();
    }
    if (!response.ok) {
      const problem = await problemFrom(response);
      if (response.status === 401) this.onUnauthorized();
      throw problem;
    }
    return response;
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.call(method, path, body);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  /** A call answered with NDJSON events (checkpoint, restore, services): each line to `onEvent`. */
  async events(method: string, path: string, body: unknown, onEvent: (e: StreamEvent) => void): Promise<StreamEvent[]> {
    const response = await this.call(method, path, body, 'application/x-ndjson');
    const all: StreamEvent[] = [];
    await readLines(response, (line) => {
      const event = line as StreamEvent;
      all.push(event);
      onEvent(event);
    });
    const failed = all.find((e) => e.type === 'error');
    if (failed) throw new Problem(String(failed.error ?? failed.data ?? 'the operation failed'), 'Check the steps above, then try again.');
    return all;
  }

  async login(token: string): Promise<void> {
    await this.call('POST', '/v1/dashboard/login', { token });
  }

  async logout(): Promise<void> {
    await this.call('POST', '/v1/dashboard/logout');
  }
}

/** Reads an NDJSON body line by line; malformed lines are skipped. */
export async function readLines(response: Response, onLine: (value: unknown) => void, signal?: AbortSignal): Promise<void> {
  if (!response.body) return;
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  signal?.addEventListener('abort', () => void reader.cancel().catch(() => {}));
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl).trim();
      buffer = buffer.slice(nl + 1);
      if (!line) continue;
      try {
        onLine(JSON.parse(line));
      } catch {
        // Spec section 0: clients skip malformed lines.
      }
    }
  }
}
