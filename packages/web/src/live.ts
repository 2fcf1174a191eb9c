// The API's live sandbox list (`GET /v1/sprites` with `Accept: application/x-ndjson`), kept open:
// a dropped stream is reopened after a pause. Watching does not touch the sandboxes themselves,
// so an open page never keeps a sandbox awake.
import { Api, readLines } from './api';
import { asProblem, type Problem } from './problem';

export interface LiveLine {
  type?: string;
  name?: string;
  status?: string;
  last_running_at?: string | null;
  last_warming_at?: string | null;
  failure_reason?: string | null;
  org?: { running?: number; warm?: number; cold?: number };
}

const RECONNECT_MS = 2000;

export interface LiveHandlers {
  /** Before each (re)connection: reload whatever the lines will update. */
  connecting?: () => Promise<void>;
  line: (line: LiveLine) => Promise<void> | void;
  connected?: (on: boolean) => void;
  /** The server refused the watch (a token that may not list): retrying would not help. */
  refused?: (problem: Problem) => void;
}

export async function watchLive(api: Api, prefix: string, signal: AbortSignal, on: LiveHandlers): Promise<void> {
  while (!signal.aborted) {
    try {
      await on.connecting?.();
      const response = await api.call('GET', `/v1/sprites?prefix=${encodeURIComponent(prefix)}`, undefined, 'application/x-ndjson');
      on.connected?.(true);
      // Lines are applied one at a time, in order, even when applying one has to fetch.
      let pending = Promise.resolve();
      await readLines(response, (line) => {
        pending = pending.then(() => on.line(line as LiveLine)).catch(() => {});
      }, signal);
      await pending;
    } catch (err) {
      const problem = asProblem(err);
      if (signal.aborted || problem.status === 401) return;
      if (problem.status === 403) return on.refused?.(problem);
    }
    on.connected?.(false);
    await new Promise((r) => setTimeout(r, RECONNECT_MS));
  }
}
