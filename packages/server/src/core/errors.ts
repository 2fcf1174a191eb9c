// Errors that reach API clients. The code comes from the protocol's registry, which the clients
// read too; the message says what happened and what to do.
import { statusFor, type ErrorCode } from '@burrow/protocol';

export class ApiError extends Error {
  readonly status: number;
  /**
   * @param details extra top-level fields of the error body, e.g. `limit` and
   *   `retry_after_seconds` of a 429 (spec section 1)
   */
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, number | string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = statusFor(code);
  }
}

export const notFound = (name: string) =>
  new ApiError('sandbox_not_found', `sandbox '${name}' does not exist (see \`burrow list\`)`);
