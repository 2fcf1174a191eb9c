/**
 * Services (spec §7): long-running programs burrow supervises inside a sandbox. They start when
 * the sandbox boots or wakes from cold, in `needs` order, restart with backoff when they crash,
 * and stay stopped once stopped. Calls that change a service stream its events as NDJSON.
 */
import { BurrowError } from './errors.js';
import type { Service, ServiceEvent, ServiceRequest } from '@burrow/protocol';
import type { HttpApi } from './http.js';

export interface ServiceStreamOptions {
  /** How long to stream the service's output, as a Go duration (`5s`); the server's default is 1 s. */
  duration?: string;
  onEvent?: (event: ServiceEvent) => void;
}

const STREAM_TIMEOUT_MS = 10 * 60_000;

export class SandboxServices {
  constructor(
    private readonly api: HttpApi,
    private readonly base: string,
  ) {}

  list(): Promise<Service[]> {
    return this.api.json<Service[]>('GET', `${this.base}/services`);
  }

  /** Rejects with status 404 for an unknown service. */
  get(name: string): Promise<Service> {
    return this.api.json<Service>('GET', this.path(name));
  }

  /** Creates or redefines the service and starts it; resolves with the events streamed meanwhile. */
  put(name: string, request: ServiceRequest, options: ServiceStreamOptions = {}): Promise<ServiceEvent[]> {
    return this.stream('PUT', this.path(name), options, { duration: options.duration }, request);
  }

  start(name: string, options: ServiceStreamOptions = {}): Promise<ServiceEvent[]> {
    return this.stream('POST', `${this.path(name)}/start`, options, { duration: options.duration });
  }

  /** SIGTERM, then SIGKILL after `timeout` (Go duration, default 10s). Rejects with 409 if not running. */
  stop(name: string, options: { timeout?: string; onEvent?: (e: ServiceEvent) => void } = {}): Promise<ServiceEvent[]> {
    return this.stream('POST', `${this.path(name)}/stop`, options, { timeout: options.timeout });
  }

  restart(name: string, options: ServiceStreamOptions = {}): Promise<ServiceEvent[]> {
    return this.stream('POST', `${this.path(name)}/restart`, options, { duration: options.duration });
  }

  /** The last `lines` lines of the log (default 100), then live output for `duration` if given. */
  logs(name: string, options: ServiceStreamOptions & { lines?: number } = {}): Promise<ServiceEvent[]> {
    const query = { lines: options.lines === undefined ? undefined : String(options.lines), duration: options.duration };
    return this.stream('GET', `${this.path(name)}/logs`, options, query);
  }

  async delete(name: string): Promise<void> {
    const response = await this.api.send('DELETE', this.path(name), { expect: [204] });
    await response.body?.cancel();
  }

  async signal(name: string, signal: string): Promise<void> {
    const response = await this.api.send('POST', `${this.base}/services/signal`, { body: { name, signal }, expect: [204] });
    await response.body?.cancel();
  }

  private path(name: string): string {
    return `${this.base}/services/${encodeURIComponent(name)}`;
  }

  private async stream(
    method: string,
    path: string,
    options: { onEvent?: (e: ServiceEvent) => void },
    params: Record<string, string | undefined>,
    body?: unknown,
  ): Promise<ServiceEvent[]> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, v);
    const response = await this.api.send(method, path, { query, body, timeoutMs: STREAM_TIMEOUT_MS });
    const events: ServiceEvent[] = [];
    const decoder = new TextDecoder();
    let buffered = '';
    const take = (line: string) => {
      if (!line.trim()) return;
      try {
        const event = JSON.parse(line) as ServiceEvent;
        events.push(event);
        options.onEvent?.(event);
      } catch {
        // skipped, as the Sprites SDKs do
      }
    };
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        take(buffered.slice(0, at));
        buffered = buffered.slice(at + 1);
      }
    }
    take(buffered);
    if (!events.some((e) => e.type === 'complete')) {
      throw new BurrowError('internal', `${method} ${path}: the stream ended without \`complete\`; check the service's state`);
    }
    return events;
  }
}
