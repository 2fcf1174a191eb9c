/**
 * Reading the NDJSON streams of checkpoint create and restore (spec §5): one JSON object per
 * line, blank and malformed lines skipped (as the Sprites JS SDK does), delivered as they come.
 */
import { isErrorCode, statusFor, type CheckpointEvent } from '@burrow/protocol';
import { BurrowError } from './errors.js';

/**
 * Reads every event of `response`, calls `onEvent` for each, and resolves with the `complete`
 * event. Rejects with a BurrowError carrying the server's text on an `error` event, and when the
 * stream ends without `complete` (the operation's outcome is then unknown).
 */
export async function readEvents(
  response: Response,
  what: string,
  onEvent: (event: CheckpointEvent) => void = () => {},
): Promise<Extract<CheckpointEvent, { type: 'complete' }>> {
  let complete: Extract<CheckpointEvent, { type: 'complete' }> | undefined;
  let failure: Extract<CheckpointEvent, { type: 'error' }> | undefined;
  const decoder = new TextDecoder();
  let buffered = '';
  const take = (line: string) => {
    const event = parseLine(line);
    if (!event) return;
    onEvent(event);
    if (event.type === 'complete') complete = event;
    if (event.type === 'error') failure = event;
  };
  if (response.body) {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let at: number;
      while ((at = buffered.indexOf('\n')) >= 0) {
        take(buffered.slice(0, at));
        buffered = buffered.slice(at + 1);
      }
    }
  }
  take(buffered + decoder.decode());
  if (failure !== undefined) {
    throw new BurrowError(failure.code ?? 'runtime_failed', `${what} failed: ${failure.error}`, {
      status: failure.code && isErrorCode(failure.code) ? statusFor(failure.code) : response.status,
    });
  }
  if (!complete) throw new BurrowError('internal', `${what}: the stream ended without a result; check the state before retrying`);
  return complete;
}

function parseLine(line: string): CheckpointEvent | undefined {
  if (!line.trim()) return undefined;
  try {
    const value = JSON.parse(line) as unknown;
    return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string'
      ? (value as CheckpointEvent)
      : undefined;
  } catch {
    return undefined;
  }
}
