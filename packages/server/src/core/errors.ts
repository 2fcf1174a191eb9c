// Errors that reach API clients. The code comes from the registry shared with the SDK; the
// message says what happened and what to do.
import { statusFor, type ErrorCode } from '@burrow/sdk';

export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
    this.status = statusFor(code);
  }
}

export const notFound = (name: string) =>
  new ApiError('sandbox_not_found', `sandbox '${name}' does not exist (see \`burrow list\`)`);
