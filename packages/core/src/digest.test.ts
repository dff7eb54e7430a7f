import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256 } from './digest.js';

describe('sha256', () => {
  it.each(['hex', 'base64', 'base64url'] as const)('gives the same %s digest as createHash', (encoding) => {
    for (const text of ['', 'mcp_sk_abc.def', 'ünïcødé ✓', 'x'.repeat(10_000)]) {
      expect(sha256(text, encoding)).toBe(createHash('sha256').update(text, 'utf8').digest(encoding));
    }
  });

  it('hashes a known vector', () => {
    expect(sha256('abc', 'hex')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});
