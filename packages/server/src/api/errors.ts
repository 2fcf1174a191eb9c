// The HTTP face of errors. Core throws DomainErrors (core/errors.ts), which know no status; the
// API layer throws ApiErrors for what it finds itself (a refused token, a malformed request).
// Both answer with the status the protocol's registry gives their code, and a flat body
// `{ "error": "<code>", "message": "...", ...details }` (spec section 1).
import { FsErrorCodes, statusFor } from '@burrow/protocol';
import type { FastifyError } from 'fastify';
import { ZodError } from 'zod';
import { DomainError } from '../core/errors.js';
import { FsError } from '../core/sandbox-fs.js';

/** An error the API layer finds itself, before or around what it asks of core. */
export class ApiError extends DomainError {}

/** Registry codes by the protocol's table; fs errors (errno form, spec section 6) by theirs. */
export function httpStatusOf(error: DomainError | FsError): number {
  return error instanceof FsError ? FsErrorCodes[error.code] : statusFor(error.code);
}

/** A policy body that does not parse: 400 `invalid_policy` (the JS SDK reports a 400 as "Invalid policy"). */
export function invalidPolicy(error: ZodError): ApiError {
  const issue = error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return new ApiError('invalid_policy', `Invalid policy: ${where}${issue?.message ?? 'not a policy'}`);
}

type ErrorBody = { error: string; message: string } & Record<string, string | number>;

export function toErrorBody(err: FastifyError | DomainError | ZodError): { status: number; body: ErrorBody } {
  if (err instanceof DomainError) return { status: httpStatusOf(err), body: { ...err.details, error: err.code, message: err.message } };
  if (err instanceof ZodError) {
    const unknown = err.issues.find((i) => i.code === 'unrecognized_keys');
    const first = err.issues[0];
    const where = first && first.path.length ? `${first.path.join('.')}: ` : '';
    return {
      status: 400,
      body: {
        error: unknown ? 'unknown_field' : 'invalid_request',
        message: `${where}${first?.message ?? 'invalid request'}`,
      },
    };
  }
  const status = err.statusCode ?? 500;
  if (status === 413) return { status, body: { error: 'payload_too_large', message: err.message } };
  if (status >= 400 && status < 500) {
    const message = err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ? 'send the body as application/json' : err.message;
    return { status: 400, body: { error: 'invalid_request', message } };
  }
  return { status: 500, body: { error: 'internal', message: `internal error: ${err.message}` } };
}
