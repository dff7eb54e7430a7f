import { describe, expect, it } from 'vitest';
import { isLoopbackHostname } from './origin.js';
import { httpUrlOption } from './url-option.js';

describe('httpUrlOption', () => {
  it('accepts https anywhere, and http only on loopback hosts by default', () => {
    for (const ok of [
      'https://as.example',
      'https://as.example:8443/tenant?x=1',
      'http://localhost:8080/realms/a',
      'http://127.0.0.1:9000',
      'http://127.1.2.3',
      'http://[::1]:3000/',
    ]) {
      expect(httpUrlOption(ok, 'o').href, ok).toBe(new URL(ok).href);
    }
  });

  it('refuses http to any other host, naming the option and the origin only', () => {
    for (const insecure of [
      'http://as.example',
      'http://10.0.0.1/x',
      'http://127.example.com',
      'http://localhost.example',
    ]) {
      expect(() => httpUrlOption(insecure, 'oauth: issuer'), insecure).toThrow(
        /^oauth: issuer must use https \(http is accepted for loopback hosts only\)/,
      );
    }
    expect(() => httpUrlOption('http://user:pw@as.example/secret-path', 'o')).toThrow(
      'got http://as.example',
    );
  });

  it("accepts http anywhere with http: 'any'", () => {
    expect(httpUrlOption('http://as.example', 'o', { http: 'any' }).host).toBe('as.example');
  });

  const bad: Array<[string, unknown, object, RegExp]> = [
    ['a relative URL', '/mcp', {}, /^o must be an absolute http\(s\) URL, got "\/mcp"/],
    ['a number', 42, {}, /^o must be an absolute http\(s\) URL, got 42/],
    ['another scheme', 'ftp://as.example', {}, /^o must be an http\(s\) URL, got ftp:/],
    ['a fragment', 'https://as.example/#x', {}, /^o must not have a fragment/],
    ['an empty fragment', 'https://as.example/#', {}, /^o must not have a fragment/],
    [
      'a query where none is allowed',
      'https://as.example/?t=1',
      { query: false },
      /^o must not have a query/,
    ],
  ];
  for (const [what, value, rules, message] of bad) {
    it(`throws a TypeError for ${what}`, () => {
      expect(() => httpUrlOption(value, 'o', rules)).toThrow(TypeError);
      expect(() => httpUrlOption(value, 'o', rules)).toThrow(message);
    });
  }

  it('takes URL objects as well as strings', () => {
    expect(httpUrlOption(new URL('https://as.example/a'), 'o').pathname).toBe('/a');
  });
});

describe('isLoopbackHostname', () => {
  it('knows localhost, ::1 and 127.0.0.0/8, and not names that merely start with 127.', () => {
    expect(['localhost', '::1', '[::1]', '127.0.0.1', '127.255.0.9'].every(isLoopbackHostname)).toBe(true);
    expect(
      ['127.example.com', '127.0.0.1.example', 'localhost.example', '10.0.0.1'].some(isLoopbackHostname),
    ).toBe(false);
  });
});
