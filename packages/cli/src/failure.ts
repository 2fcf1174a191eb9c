/**
 * Turns any failure into the one line a user sees. Stack traces are for bugs in burrow
 * itself, and only on request (BURROW_DEBUG=1).
 */
import { isBurrowConnectionError, isBurrowError } from '@burrow/sdk';

export function failureMessage(err: unknown): string {
  if (isBurrowConnectionError(err)) return `${err.message}: is \`burrow serve\` running?`;
  if (isBurrowError(err)) return err.message || err.code;
  if (err instanceof Error) return err.message;
  return String(err);
}

export function reportFailure(err: unknown, env: NodeJS.ProcessEnv = process.env): void {
  process.stderr.write(`burrow: ${failureMessage(err)}\n`);
  if (env.BURROW_DEBUG && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
}
