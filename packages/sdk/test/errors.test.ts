import { describe, expect, it } from 'vitest';
import { BurrowError, isBurrowError } from '../src/errors.js';

describe('BurrowError', () => {
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
