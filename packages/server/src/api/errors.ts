// The HTTP face of errors. Core throws DomainErrors (core/errors.ts), which know no status; the
// API layer throws ApiErrors for what it finds itself (a refused token, a malformed request).
// Both answer with the status the protocol's registry gives their code, and a flat body
// `{ "error": "<code>", "message": "...", ...details }` (spec section 1).
import { statusFor } from '@burrow/protocol';
import { DomainError } from '../core/errors.js';

/** An error the API layer finds itself, before or around what it asks of core. */
export class ApiError extends DomainError {}

export function httpStatusOf(error: DomainError): number {
  return statusFor(error.code);
}
