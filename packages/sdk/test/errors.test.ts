import { describe, expect, it } from 'vitest';
import { BurrowError, codeForStatus, ErrorCodes, isBurrowError, statusFor } from '../src/errors.js';

describe('error registry', () => {
  it('maps every code to its HTTP status', () => {
    expect(statusFor('sandbox_not_found')).toBe(404);
    expect(statusFor('sandbox_busy')).toBe(409);
    expect(statusFor('unavailable')).toBe(503);
    expect(statusFor('gone')).toBe(410);
    expect(statusFor('headers_too_large')).toBe(431);
    for (const status of Object.values(ErrorCodes)) expect(status >= 400 && status < 600).toBe(true);
    expect(statusFor('concurrent_sprite_limit_exceeded')).toBe(429);
    expect(statusFor('quota_exceeded')).toBe(409);
    expect(statusFor('pool_full')).toBe(507);
  });

  it('picks the generic code for a status that came without one', () => {
    expect(codeForStatus(404)).toBe('not_found');
    expect(codeForStatus(400)).toBe('invalid_request');
    expect(codeForStatus(502)).toBe('internal');
    expect(codeForStatus(418)).toBe('invalid_request');
  });

  it('takes the status from the registry when a server throws by code', () => {
    const err = new BurrowError('sandbox_exists', "sandbox 'dev' already exists");
    expect(err.status).toBe(409);
    expect(err.toBody()).toEqual({ error: 'sandbox_exists', message: "sandbox 'dev' already exists" });
    expect(isBurrowError(err)).toBe(true);
    expect(isBurrowError(new Error('x'))).toBe(false);
  });
});

describe('BurrowError.fromResponse (spec §1)', () => {
  it('reads the flat body', () => {
    const err = BurrowError.fromResponse(404, '{"error":"sandbox_not_found","message":"sandbox \'x\' does not exist"}');
    expect(err).toMatchObject({ status: 404, code: 'sandbox_not_found', message: "sandbox 'x' does not exist" });
  });

  it('uses a body that is not JSON as the message, as-is', () => {
    const err = BurrowError.fromResponse(502, '<html>Bad Gateway</html>');
    expect(err).toMatchObject({ status: 502, code: 'internal', message: '<html>Bad Gateway</html>' });
  });

  it('falls back to the code, then to a generic line, for the message', () => {
    expect(BurrowError.fromResponse(409, '{"error":"sandbox_busy"}').message).toBe('sandbox_busy');
    expect(BurrowError.fromResponse(500, '{}').message).toBe('API error (status 500)');
    expect(BurrowError.fromResponse(503, '').message).toBe('API error (status 503)');
  });

  it('keeps the retry hint of a rate limit', () => {
    expect(BurrowError.fromResponse(429, '{"error":"rate_limited","message":"slow down"}', '7').retryAfterSeconds).toBe(7);
    expect(BurrowError.fromResponse(429, '{"error":"rate_limited","retry_after_seconds":3}').retryAfterSeconds).toBe(3);
  });
});
