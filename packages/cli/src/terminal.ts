/**
 * Our terminal joined to a terminal in a sandbox, the way ssh joins them: raw mode while
 * connected, so every key (Ctrl-C too) goes to the remote program; our size sent along and
 * followed; bytes both ways; Ctrl+\ to detach; and our terminal restored however it ends.
 * With a pipe or a file on stdin the same bridge works, minus raw mode.
 */
import type { TerminalProcess } from '@burrow/sdk';
import { outcomeOf, type Outcome } from './attachment.js';
import { relay } from './relay.js';

/** Ctrl+\ : SIGQUIT on a cooked terminal, a plain byte in raw mode. Rarely needed by programs. */
export const DETACH_BYTE = 0x1c;
/** Ctrl-D: what a terminal sends for end of input. */
const EOF_BYTE = 0x04;

/** Our side of the bridge; process.stdin and stdout, except in tests. */
export interface LocalTerminal {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown };
  output: NodeJS.WritableStream;
  /** The stream that knows the terminal's size, when stdout or stderr is a terminal. */
  sized?: SizedStream | undefined;
}

export interface SizedStream {
  columns: number;
  rows: number;
  on(event: 'resize', listener: () => void): unknown;
  off(event: 'resize', listener: () => void): unknown;
}

export interface BridgeOptions {
  /** Ctrl+\ detaches; otherwise it goes through like any other key. */
  detachKey: boolean;
  /** Send our size at the start: attaching joins a terminal sized for whoever started it. */
  sendSize: boolean;
  /** When our input ends (a pipe, never a terminal), type Ctrl-D, so a shell at its prompt exits as after `bash < file`. */
  ctrlDAtEnd: boolean;
  /** What leaving without a detach key does to the remote program: a hangup, as closing a terminal does. */
  hangupOnLeave: boolean;
}

export function localTerminal(): LocalTerminal {
  const sized = process.stdout.isTTY ? process.stdout : process.stderr.isTTY ? process.stderr : undefined;
  return { input: process.stdin, output: process.stdout, sized };
}

/** Whether the bridge will put `local` in raw mode: a person is typing. */
export function isInteractive(local: LocalTerminal): boolean {
  return local.input.isTTY === true && typeof local.input.setRawMode === 'function';
}

/** Runs until the remote program exits, we detach, or the connection fails. */
export function bridgeTerminal(handle: TerminalProcess, options: BridgeOptions, local: LocalTerminal = localTerminal()): Promise<Outcome> {
  const { input, output, sized } = local;
  const raw = isInteractive(local);
  const restore = (): void => {
    if (raw) input.setRawMode?.(false);
  };
  if (raw) input.setRawMode?.(true);
  // Whatever ends the process behind our back, the user keeps a usable terminal.
  process.once('exit', restore);

  const sendSize = (): void => {
    if (sized && sized.columns > 0 && sized.rows > 0) handle.resize(sized.columns, sized.rows);
  };
  if (options.sendSize) sendSize();
  sized?.on('resize', sendSize);

  const leave = (): void => {
    if (options.hangupOnLeave) handle.kill('SIGHUP');
    void handle.detach();
  };
  // A write that fails means the connection is gone; wait() reports that.
  handle.stdin.on('error', () => {});

  const onData = (chunk: Buffer): void => {
    const at = options.detachKey ? chunk.indexOf(DETACH_BYTE) : -1;
    if (at === -1) {
      if (!handle.stdin.write(chunk)) {
        input.pause();
        handle.stdin.once('drain', () => input.resume());
      }
      return;
    }
    // What was typed before the key still goes; nothing after it does. The write callback
    // comes once the bytes are on the socket, ahead of the close.
    input.off('data', onData);
    handle.stdin.write(chunk.subarray(0, at), () => void handle.detach());
  };
  const onEnd = (): void => {
    if (options.ctrlDAtEnd) handle.stdin.write(Buffer.of(EOF_BYTE));
  };
  input.on('data', onData);
  input.on('end', onEnd);

  // In raw mode keys are bytes, so these come from `kill`, a closed window, or (with a pipe
  // on stdin) keys typed at the terminal the CLI runs in.
  const signals: Array<[NodeJS.Signals, () => void]> = [
    ['SIGINT', () => handle.kill('SIGINT')],
    ['SIGHUP', leave],
    ['SIGTERM', leave],
  ];
  if (options.detachKey) signals.push(['SIGQUIT', leave]);
  for (const [signal, handler] of signals) process.on(signal, handler);

  const relayed = relay(handle.stdout, output, leave);
  return outcomeOf(handle).then(async (outcome) => {
    input.off('data', onData);
    input.off('end', onEnd);
    input.pause();
    sized?.off('resize', sendSize);
    for (const [signal, handler] of signals) process.off(signal, handler);
    // Everything the program printed is shown before the terminal leaves raw mode.
    await relayed;
    restore();
    process.off('exit', restore);
    return outcome;
  });
}
