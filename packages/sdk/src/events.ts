/**
 * A sandbox's event log (a burrow extra): the list, and following new events as an async
 * iterator over the NDJSON stream of `GET /v1/sprites/{name}/events?follow=true`.
 */
import type { HttpApi } from './http.js';
import type { SandboxEventWire } from '@burrow/protocol';

export interface EventsOptions {
  /** Only events after this id. */
  after?: number;
  /** At most this many (the newest); the server's default is 100. */
  limit?: number;
}

export function listEvents(api: HttpApi, path: string, options: EventsOptions = {}): Promise<SandboxEventWire[]> {
  return api.json<SandboxEventWire[]>('GET', `${path}/events`, { query: eventsQuery(options) });
}

/**
 * Past events (as `listEvents` gives them), then each new one as it happens, until `signal`
 * aborts or the server ends the stream. Heartbeat lines are skipped.
 */
export async function* followEvents(
  api: HttpApi,
  path: string,
  options: EventsOptions & { signal?: AbortSignal } = {},
): AsyncGenerator<SandboxEventWire> {
  const query = eventsQuery(options);
  query.set('follow', 'true');
  let response: Response;
  try {
    response = await api.send('GET', `${path}/events`, { query, expect: [200], timeoutMs: 2 ** 31 - 1, signal: options.signal });
  } catch (err) {
    if (options.signal?.aborted) return;
    throw err;
  }
  const decoder = new TextDecoder();
  let buffered = '';
  const body = response.body as unknown as AsyncIterable<Uint8Array> | null;
  if (!body) return;
  try {
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        const event = parse(line);
        if (event) yield event;
      }
    }
  } catch (err) {
    if (!options.signal?.aborted) throw err;
  }
}

function eventsQuery(options: EventsOptions): URLSearchParams {
  const query = new URLSearchParams();
  if (options.after !== undefined) query.set('after', String(options.after));
  if (options.limit !== undefined) query.set('limit', String(options.limit));
  return query;
}

function parse(line: string): SandboxEventWire | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as SandboxEventWire;
    return typeof value.id === 'number' && value.type !== 'heartbeat' ? value : undefined;
  } catch {
    return undefined;
  }
}
