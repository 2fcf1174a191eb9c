// Core's errors know no HTTP; the API edge answers each with its code's status and the flat body
// of spec section 1.
import { describe, expect, it } from 'vitest';
import { ApiError, httpStatusOf, toErrorBody } from '../src/api/errors.js';
import { Conflict, DomainError, RuntimeFailed, SandboxBusy, SandboxExists, SandboxNotFound } from '../src/core/errors.js';
import { FsError } from '../src/core/sandbox-fs.js';

describe('error bodies at the API edge', () => {
  it("answers core's errors with their code's status and the message that says what to do", () => {
    expect(toErrorBody(new SandboxNotFound('dev'))).toEqual({
      status: 404,
      body: { error: 'sandbox_not_found', message: "sandbox 'dev' does not exist (see `burrow list`)" },
    });
    expect(toErrorBody(new SandboxExists('dev'))).toEqual({
      status: 409,
      body: { error: 'sandbox_exists', message: "a sandbox named 'dev' already exists" },
    });
    expect(toErrorBody(new SandboxBusy({ name: 'dev', status: 'creating' }))).toEqual({
      status: 409,
      body: { error: 'sandbox_busy', message: "sandbox 'dev' is creating; try again when it is done" },
    });
    expect(toErrorBody(new SandboxBusy({ name: 'dev', status: 'destroying' }, { tryAgain: false })).body.message).toBe("sandbox 'dev' is destroying");
    expect(toErrorBody(new RuntimeFailed('runsc exited 1'))).toEqual({ status: 500, body: { error: 'runtime_failed', message: 'runsc exited 1' } });
    expect(toErrorBody(new Conflict('service is not running'))).toEqual({ status: 409, body: { error: 'conflict', message: 'service is not running' } });
  });

  it('keeps the details as top-level fields, under the code and message', () => {
    const full = new DomainError('concurrent_sprite_limit_exceeded', 'all 2 running slots are taken', { limit: 2, retry_after_seconds: 5, error: 'x' });
    expect(toErrorBody(full)).toEqual({
      status: 429,
      body: { limit: 2, retry_after_seconds: 5, error: 'concurrent_sprite_limit_exceeded', message: 'all 2 running slots are taken' },
    });
  });

  it("answers the API layer's own errors the same way", () => {
    expect(toErrorBody(new ApiError('unauthorized', 'no token'))).toEqual({ status: 401, body: { error: 'unauthorized', message: 'no token' } });
  });

  it('gives an fs error, which carries only its errno name, the status of spec section 6', () => {
    const status = (code: ConstructorParameters<typeof FsError>[0]) => httpStatusOf(new FsError(code, 'x', '/x'));
    expect(['ENOENT', 'EACCES', 'EEXIST', 'ENOTDIR', 'EINVAL', 'EIO'].map(status)).toEqual([404, 403, 409, 400, 400, 500]);
    expect(Object.keys(new FsError('ENOENT', 'no such file', '/x'))).not.toContain('status');
  });
});
