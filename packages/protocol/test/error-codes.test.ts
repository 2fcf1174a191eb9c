import { describe, expect, it } from 'vitest';
import { codeForStatus, ErrorCodes, statusFor } from '../src/error-codes.js';

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
});
