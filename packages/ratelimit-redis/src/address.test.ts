import { describe, expect, it } from 'vitest';
import { addressBucket } from './address.js';

describe('addressBucket', () => {
  it('keeps an IPv4 address as it is', () => {
    expect(addressBucket('192.0.2.7', 64)).toBe('192.0.2.7');
  });

  it('cuts an IPv6 address to its /64 by default, however it is written', () => {
    const a = addressBucket('2001:db8:1:2::a', 64);
    expect(a).toBe('2001:db8:1:2:0:0:0:0/64');
    expect(addressBucket('2001:0db8:0001:0002:ffff:1:2:3', 64)).toBe(a);
    expect(addressBucket('2001:db8:1:3::a', 64)).not.toBe(a);
  });

  it('cuts to any prefix, including one inside a group', () => {
    expect(addressBucket('2001:db8:1:12ff::1', 56)).toBe('2001:db8:1:1200:0:0:0:0/56');
    expect(addressBucket('2001:db8:1:2::1', 48)).toBe('2001:db8:1:0:0:0:0:0/48');
  });

  it('keeps the full address with false, drops a zone, and reads IPv4-mapped addresses as IPv4', () => {
    expect(addressBucket('2001:db8::1', false)).toBe('2001:db8:0:0:0:0:0:1');
    expect(addressBucket('fe80::1%eth0', 64)).toBe('fe80:0:0:0:0:0:0:0/64');
    expect(addressBucket('::ffff:192.0.2.7', 64)).toBe('192.0.2.7');
  });

  it('passes through what is not an IP address', () => {
    expect(addressBucket('unix-socket', 64)).toBe('unix-socket');
  });
});
