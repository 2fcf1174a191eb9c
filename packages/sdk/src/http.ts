/**
 * The HTTP side of one API endpoint: bearer auth, JSON bodies, timeouts, and turning every
 * failure into either a BurrowError (the server answered no) or a BurrowConnectionError
 * (nothing answered). BurrowClient and every Sandbox handle share one.
 */
import { BurrowConnectionError, BurrowError } from './errors.js';
import type { Credentials } from './credentials.js';

/** The Sprites JS SDK's defaults (spec §0); create gets longer because it may start a box. */
const DEFAULT_TIMEOUT_MS = 30_000;

export interface RequestOptions {
  query?: URLSearchParams;
  body?: unknown;
  /** Statuses that count as success; by default any 2xx. */
  expect?: number[];
  timeoutMs?: number;
  /** Aborts the request, and the reading of its body. */
  signal?: AbortSignal;
}

export class HttpApi {
  constructor(readonly credentials: Credentials) {}

  get baseURL(): string {
    return this.credentials.baseURL;
  }

  /** Headers every request and every WebSocket upgrade carries (spec §1). */
  authHeaders(): Record<string, string> {
    return { Authorization: `Bearer ${this.credentials.token}` };
  }

  /** A ws:// or wss:// URL on the same host and port as the HTTP API (spec §0). */
  websocketURL(path: string, query: URLSearchParams): string {
    const search = query.toString();
    return `${this.baseURL.replace(/^http/, 'ws')}${path}${search ? `?${search}` : ''}`;
  }

  async json<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(method, path, options);
    const text = await response.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new BurrowError('internal', `burrow sent a body that is not JSON for ${method} ${path}: ${text.slice(0, 200)}`, {
        status: response.status,
      });
    }
  }

  async send(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = `${this.baseURL}${path}${options.query?.size ? `?${options.query}` : ''}`;
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const headers: Record<string, string> = { ...this.authHeaders(), Accept: 'application/json' };
    if (options.body !== undefined) headers['Content-Type'] = 'application/json';

    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw this.connectionError(err, timeoutMs);
    }

    const ok = options.expect ? options.expect.includes(response.status) : response.ok;
    if (ok) return response;
    if (response.status >= 400) {
      throw BurrowError.fromResponse(response.status, await response.text(), response.headers.get('retry-after'));
    }
    await response.body?.cancel();
    throw new BurrowError(
      'internal',
      `burrow answered ${method} ${path} with status ${response.status}; expected ${options.expect?.join(' or ') ?? '2xx'}`,
      { status: response.status },
    );
  }

  connectionError(err: unknown, timeoutMs?: number): BurrowConnectionError {
    if (err instanceof Error && err.name === 'TimeoutError' && timeoutMs !== undefined) {
      return new BurrowConnectionError(this.baseURL, `burrow at ${this.baseURL} did not answer within ${timeoutMs / 1000} s`, {
        cause: err,
      });
    }
    // fetch reports "fetch failed" and hides the useful part (ECONNREFUSED, ENOTFOUND) in cause.
    const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
    const detail = (cause as NodeJS.ErrnoException).code ?? (cause instanceof Error ? cause.message : String(cause));
    return new BurrowConnectionError(this.baseURL, `cannot reach burrow at ${this.baseURL} (${detail})`, { cause: err });
  }
}
