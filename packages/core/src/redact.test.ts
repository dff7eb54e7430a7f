import { describe, expect, it } from 'vitest';
import { compileRedactPaths, isSensitiveKey, REDACTED, redact, scrubText } from './redact.js';

describe('redact', () => {
  describe('credential keys', () => {
    it('redacts Authorization, Cookie, x-api-key and any token, secret, password or api key key at any depth', () => {
      const out = redact({
        headers: { Authorization: 'Bearer abc', cookie: 'sid=1', 'x-api-key': 'k1' },
        nested: { deeper: { accessToken: 't', client_secret: 's', password: 'p', apiKey: 'a' } },
        list: [{ refresh_token: 'r' }],
        keep: 'visible',
      });
      expect(out).toEqual({
        headers: { Authorization: REDACTED, cookie: REDACTED, 'x-api-key': REDACTED },
        nested: {
          deeper: { accessToken: REDACTED, client_secret: REDACTED, password: REDACTED, apiKey: REDACTED },
        },
        list: [{ refresh_token: REDACTED }],
        keep: 'visible',
      });
    });

    it('leaves keys that merely look alike alone', () => {
      for (const key of ['name', 'author', 'count', 'keyId', 'session'])
        expect(isSensitiveKey(key)).toBe(false);
    });
  });

  describe('configured paths', () => {
    it('redacts exact dot paths and * wildcards, including array indices', () => {
      const paths = compileRedactPaths(['card.number', 'users.*.ssn'], 'redact');
      const out = redact(
        {
          card: { number: '4111', brand: 'visa' },
          users: [
            { ssn: '1', name: 'a' },
            { ssn: '2', name: 'b' },
          ],
        },
        paths,
      );
      expect(out).toEqual({
        card: { number: REDACTED, brand: 'visa' },
        users: [
          { ssn: REDACTED, name: 'a' },
          { ssn: REDACTED, name: 'b' },
        ],
      });
    });

    it('throws a TypeError naming the option for a malformed path', () => {
      expect(() => compileRedactPaths(['ok.path', 'bad..path'], 'jsonLogger: redact')).toThrow(
        /jsonLogger: redact entries must be dot paths/,
      );
      expect(() => compileRedactPaths('card.number', 'jsonLogger: redact')).toThrow(TypeError);
    });
  });

  describe('credentials inside text', () => {
    it('scrubs Bearer and Basic credentials from free text', () => {
      expect(scrubText('upstream said: Authorization: Bearer eyJhbGciOi.x.y rejected')).toBe(
        `upstream said: Authorization: Bearer ${REDACTED} rejected`,
      );
      expect(scrubText('basic dXNlcjpwYXNz==')).toBe(`basic ${REDACTED}`);
    });
  });

  describe('bounds', () => {
    it('ends cycles and deep nesting with [Truncated] and caps long strings and arrays', () => {
      const cyclic: Record<string, unknown> = { a: 1 };
      cyclic['self'] = cyclic;
      expect(JSON.stringify(redact(cyclic))).toContain('[Truncated]');
      const long = redact('x'.repeat(10_000)) as string;
      expect(long.length).toBeLessThan(2100);
      const arr = redact(Array.from({ length: 500 }, (_, i) => i)) as unknown[];
      expect(arr).toHaveLength(101);
      expect(arr[100]).toBe('[400 more]');
    });

    it('never mutates its input', () => {
      const input = { token: 't', inner: { password: 'p' } };
      redact(input);
      expect(input).toEqual({ token: 't', inner: { password: 'p' } });
    });
  });
});
