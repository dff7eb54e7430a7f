import { describe, expect, it } from 'vitest';
import { isScopeToken, policyScopes, scopeListOption, toolScopePolicyOption } from './scope-syntax.js';
import { checkToolScopes, toolScopes } from './scopes.js';

describe('isScopeToken (RFC 6749 §3.3)', () => {
  it('accepts printable ASCII scope tokens such as URLs and colon names', () => {
    for (const s of ['read', 'tools:write', 'https://api.example/scope', '!#[]~', 'a'.repeat(200)]) {
      expect(isScopeToken(s), s).toBe(true);
    }
  });

  it('refuses the empty string, spaces, quotes, backslashes, control and non-ASCII characters', () => {
    for (const s of ['', 'a b', 'a"b', 'a\\b', 'a\tb', 'a\nb', 'é', '\x7f', 42, null]) {
      expect(isScopeToken(s), JSON.stringify(s)).toBe(false);
    }
  });
});

describe('scopeListOption', () => {
  it('returns a copy of a list of scope tokens', () => {
    const list = ['a', 'b:c'];
    const copy = scopeListOption(list, 'x: scopes');
    expect(copy).toEqual(list);
    expect(copy).not.toBe(list);
  });

  it('throws a TypeError naming the option and the bad scope', () => {
    expect(() => scopeListOption('a b', 'x: scopes')).toThrow(
      new TypeError('x: scopes must be an array of scope strings'),
    );
    expect(() => scopeListOption(['ok', 'a b'], 'x: scopes')).toThrow(
      /^x: scopes has an invalid scope "a b"/,
    );
  });
});

describe('toolScopePolicyOption', () => {
  it('copies a valid policy, tools and default', () => {
    const policy = toolScopePolicyOption({ tools: { w: ['write'] }, default: ['read'] }, 'p');
    expect({ ...policy.tools }).toEqual({ w: ['write'] });
    expect(policy.default).toEqual(['read']);
    expect(policyScopes({ tools: { a: ['x', 'y'], b: ['y'] }, default: ['z', 'x'] })).toEqual([
      'x',
      'y',
      'z',
    ]);
  });

  it('treats a tool named like an Object.prototype member as a plain tool', () => {
    const policy = toolScopePolicyOption(JSON.parse('{"tools":{"__proto__":["admin"]}}'), 'p');
    expect(checkToolScopes(policy, undefined, '__proto__').ok).toBe(false);
    expect(checkToolScopes(policy, undefined, 'constructor').ok).toBe(true);
  });

  const bad: Array<[string, unknown, RegExp]> = [
    ['not an object', 'read', /^p must be an object/],
    ['an array', [], /^p must be an object/],
    ['tools as an array', { tools: [] }, /^p\.tools must map tool names/],
    ['a tool whose scopes are a string', { tools: { t: 'read' } }, /^p\.tools\.t must be an array/],
    ['a tool scope with a space', { tools: { t: ['a b'] } }, /^p\.tools\.t has an invalid scope "a b"/],
    ['a default that is not a list', { default: 'x' }, /^p\.default must be an array/],
    ['an empty default scope', { default: [''] }, /^p\.default has an invalid scope ""/],
  ];
  for (const [what, value, message] of bad) {
    it(`throws a TypeError for ${what}`, () => {
      expect(() => toolScopePolicyOption(value, 'p')).toThrow(TypeError);
      expect(() => toolScopePolicyOption(value, 'p')).toThrow(message);
    });
  }

  it('is what toolScopes() checks its policy with', () => {
    expect(() => toolScopes({ tools: { t: ['a"b'] } })).toThrow(
      /^toolScopes: policy\.tools\.t has an invalid scope/,
    );
  });
});
