// Signal names as clients send them (`SIGTERM` or `TERM`) and exit codes as shells report them.
import { constants } from 'node:os';

const SIGNALS = new Set(Object.keys(constants.signals));

/** Parses `{"type":"signal","signal":"TERM"}`; anything else (resize in non-TTY mode) is null. */
export function signalFromMessage(text: string): NodeJS.Signals | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    return null;
  }
  if (typeof msg !== 'object' || msg === null || (msg as { type?: unknown }).type !== 'signal') return null;
  return normalizeSignal((msg as { signal?: unknown }).signal);
}

export function normalizeSignal(value: unknown): NodeJS.Signals | null {
  if (typeof value !== 'string') return null;
  const upper = value.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  return SIGNALS.has(name) ? (name as NodeJS.Signals) : null;
}

/** 0-255, with death by signal N reported as 128+N like a shell does. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code & 0xff;
  const n = signal ? constants.signals[signal] : undefined;
  return n ? (128 + n) & 0xff : 255;
}
