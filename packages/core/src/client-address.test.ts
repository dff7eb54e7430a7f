import { describe, expect, it } from 'vitest';
import { resolveClientAddress } from './client-address.js';

describe('resolveClientAddress', () => {
  it('uses the socket peer and ignores X-Forwarded-For when no proxy is trusted', () => {
    expect(resolveClientAddress('10.0.0.5', '1.2.3.4', false)).toBe('10.0.0.5');
  });

  it('takes the address the n-th trusted proxy saw', () => {
    expect(resolveClientAddress('10.0.0.5', '203.0.113.9', 1)).toBe('203.0.113.9');
    // A client-forged first entry is ignored: only one proxy is trusted.
    expect(resolveClientAddress('10.0.0.5', '6.6.6.6, 203.0.113.9', 1)).toBe('203.0.113.9');
    expect(resolveClientAddress('10.0.0.5', '198.51.100.1, 203.0.113.9', 2)).toBe('198.51.100.1');
  });

  it('stops at the leftmost address when more hops are trusted than exist', () => {
    expect(resolveClientAddress('10.0.0.5', '203.0.113.9', 5)).toBe('203.0.113.9');
  });

  it('walks right to left while the function trusts the hop', () => {
    const trusted = (a: string) => a.startsWith('10.');
    expect(resolveClientAddress('10.0.0.5', '6.6.6.6, 203.0.113.9, 10.0.0.2', trusted)).toBe('203.0.113.9');
  });

  it('folds IPv4-mapped IPv6 peers to plain IPv4', () => {
    expect(resolveClientAddress('::ffff:127.0.0.1', null, false)).toBe('127.0.0.1');
  });
});
