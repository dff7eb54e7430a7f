import { describe, expect, it } from 'vitest';
import { generateApiKey } from './generate.js';
import {
  formatApiKey,
  hashApiKeySecret,
  newApiKeyId,
  newApiKeySecret,
  parseApiKey,
  secretMatches,
} from './key-format.js';

describe('key format', () => {
  describe('a generated key', () => {
    it('reads mcpk_<16 hex id>_<43 base64url secret> and parses back to its parts', () => {
      const id = newApiKeyId();
      const secret = newApiKeySecret();
      const key = formatApiKey(id, secret);
      expect(key).toMatch(/^mcpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      expect(parseApiKey(key)).toEqual({ id, secret });
    });

    it('carries 256 random bits of secret: a thousand keys never repeat an id or a secret', () => {
      const ids = new Set<string>();
      const secrets = new Set<string>();
      for (let i = 0; i < 1000; i++) {
        ids.add(newApiKeyId());
        secrets.add(newApiKeySecret());
      }
      expect(ids.size).toBe(1000);
      expect(secrets.size).toBe(1000);
      expect(Buffer.from(newApiKeySecret(), 'base64url')).toHaveLength(32);
    });

    it('parses even when the secret contains the _ separator', () => {
      const secret = `${'_'.repeat(10)}${'A'.repeat(32)}A`;
      const key = `mcpk_0123456789abcdef_${secret}`;
      expect(parseApiKey(key)).toEqual({ id: '0123456789abcdef', secret });
    });
  });

  describe('parseApiKey', () => {
    const good = generateApiKey({ owner: 'o' }).key;
    const [, id, secret] = /^mcpk_(\w{16})_(.*)$/.exec(good)!;

    it.each([
      ['an empty string', ''],
      ['another prefix', `sk_${id}_${secret}`],
      ['an upper-case prefix', `MCPK_${id}_${secret}`],
      ['an upper-case id', `mcpk_${id!.toUpperCase()}_${secret}`],
      ['a short id', `mcpk_${id!.slice(1)}_${secret}`],
      ['a short secret', `mcpk_${id}_${secret!.slice(1)}`],
      ['a long secret', `mcpk_${id}_${secret}A`],
      ['standard base64 characters', `mcpk_${id}_${'+'.repeat(42)}A`],
      ['surrounding whitespace', ` ${good}`],
      ['two keys joined', `${good}, ${good}`],
    ])('refuses %s', (_what, value) => {
      expect(parseApiKey(value)).toBeUndefined();
    });

    it('refuses a non-canonical secret (padding bits set), so one secret has one spelling', () => {
      // 43 base64url characters hold 258 bits; a canonical 32-byte encoding leaves the last 2 bits zero.
      const canonical = `${'A'.repeat(42)}A`;
      const nonCanonical = `${'A'.repeat(42)}B`;
      expect(parseApiKey(`mcpk_0123456789abcdef_${canonical}`)).toBeDefined();
      expect(parseApiKey(`mcpk_0123456789abcdef_${nonCanonical}`)).toBeUndefined();
    });
  });

  describe('hashing', () => {
    it('is SHA-256 in lowercase hex', () => {
      expect(hashApiKeySecret('abc')).toBe(
        'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
      );
    });

    it('matches the right secret and nothing else, and never matches a malformed stored hash', () => {
      const secret = newApiKeySecret();
      const hash = hashApiKeySecret(secret);
      expect(secretMatches(secret, hash)).toBe(true);
      expect(secretMatches(newApiKeySecret(), hash)).toBe(false);
      expect(secretMatches(secret, hash.toUpperCase())).toBe(false);
      expect(secretMatches(secret, hash.slice(2))).toBe(false);
      expect(secretMatches(secret, undefined)).toBe(false);
    });
  });
});
