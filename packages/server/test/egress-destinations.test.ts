import { describe, expect, it } from 'vitest';
import { blockedRanges, blockedReason } from '../src/egress/destinations.js';

describe('egress destinations', () => {
  const list = blockedRanges(['10.0.0.0/8', '127.0.0.0/8', '169.254.0.0/16']);

  it('refuses blocked IPv4 ranges, also when written as IPv4-mapped IPv6', () => {
    expect(blockedReason(list, '10.1.2.3')).toMatch(/may not reach/);
    expect(blockedReason(list, '169.254.169.254')).toMatch(/may not reach/);
    expect(blockedReason(list, '::ffff:127.0.0.1')).toMatch(/may not reach/);
  });

  it('refuses every other IPv6 address and anything that is not an address', () => {
    expect(blockedReason(list, '2001:db8::1')).toMatch(/IPv6/);
    expect(blockedReason(list, 'example.com')).toMatch(/not an IP address/);
  });

  it('lets public addresses through', () => {
    expect(blockedReason(list, '198.18.0.10')).toBeNull();
    expect(blockedReason(list, '::ffff:8.8.8.8')).toBeNull();
  });
});
