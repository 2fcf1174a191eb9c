/**
 * How time attached to a session ends, for `console` and `sessions attach`: the outcome, what
 * the user is told (how to come back, after a detach), and the exit code our shell gets.
 * Also following a session without a terminal, which only needs its output shown.
 */
import { isSessionDetachedError, type ExecHandle, type SandboxProcess } from '@burrow/sdk';
import { reportFailure } from './failure.js';
import { flushed, relay } from './relay.js';

export type Outcome = { kind: 'exited'; code: number } | { kind: 'detached' } | { kind: 'failed'; error: unknown };

/** The handle's end as an Outcome; never rejects. */
export function outcomeOf(handle: ExecHandle): Promise<Outcome> {
  return handle.wait().then(
    (code): Outcome => ({ kind: 'exited', code }),
    (error: unknown): Outcome => (isSessionDetachedError(error) ? { kind: 'detached' } : { kind: 'failed', error }),
  );
}

/**
 * Shows a non-TTY session's stdout and stderr until it exits. Input is not forwarded: Ctrl-C
 * (and Ctrl+\, hangup, SIGTERM) detach and leave the session running; `burrow sessions kill`
 * stops it.
 */
export async function followOutput(handle: SandboxProcess): Promise<Outcome> {
  const detach = (): void => void handle.detach();
  const relayed = Promise.all([relay(handle.stdout, process.stdout, detach), relay(handle.stderr, process.stderr, detach)]);
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGQUIT', 'SIGHUP', 'SIGTERM'];
  for (const signal of signals) process.on(signal, detach);
  const outcome = await outcomeOf(handle);
  // The streams end on exit, failure and detach alike; what arrived is still shown.
  await relayed;
  for (const signal of signals) process.off(signal, detach);
  return outcome;
}

export interface LeaveContext {
  sandbox: string;
  sessionId: string | undefined;
  /** Whether the session outlives us, so a detach or a lost connection can be re-attached. */
  detachable: boolean;
  /** Start our message on a fresh line: the remote prompt is probably mid-line. */
  interactive: boolean;
}

/** Reports the outcome and exits: the command's code, 0 after a detach, 1 after a failure. */
export async function leave(outcome: Outcome, context: LeaveContext): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  const { sandbox, sessionId, detachable, interactive } = context;
  const reattach = detachable && sessionId !== undefined ? `burrow sessions attach ${sandbox} ${sessionId}` : undefined;
  const fresh = interactive ? '\n' : '';
  switch (outcome.kind) {
    case 'exited':
      // Exit here rather than when the event loop drains: stdin may be an open pipe nobody closes.
      return process.exit(outcome.code);
    case 'detached':
      if (reattach) process.stderr.write(`${fresh}detached from session ${sessionId}; re-attach with: ${reattach}\n`);
      else process.stderr.write(`${fresh}disconnected; the command was sent SIGHUP\n`);
      return process.exit(0);
    case 'failed':
      if (interactive) process.stderr.write(fresh);
      reportFailure(outcome.error);
      if (reattach) process.stderr.write(`re-attach with: ${reattach}\n`);
      return process.exit(1);
  }
}
