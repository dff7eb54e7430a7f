import { ExpiringCache } from '@mcp-middleware/core';
import { afterEach, describe, expect, it } from 'vitest';
import { extractBearerToken } from './bearer.js';
import { formatChallenge } from './challenge.js';
import { checkIntrospection, checkJwtHeader } from './claims.js';
import { checkToolCalls, metadataPaths, type OAuthOptions, oauth } from './index.js';
import { type ProtectedServer, READ, startProtectedServer, WRITE } from './test-fixtures.js';

const ISSUER = 'https://auth.example.com';

describe('protected resource metadata (RFC 9728)', () => {
  let server: ProtectedServer | undefined;
  afterEach(() => server?.close());

  const start = () =>
    startProtectedServer((resource) =>
      oauth({
        resource,
        authorizationServers: [ISSUER],
        requiredScopes: [READ],
        toolScopes: { tools: { write_note: [WRITE] } },
        resourceName: 'Notes',
      }),
    );

  it('is served without a token at the path-suffixed and the root well-known URLs', async () => {
    server = await start();
    const expected = {
      resource: server.resource,
      authorization_servers: [ISSUER],
      scopes_supported: [READ, WRITE],
      bearer_methods_supported: ['header'],
      resource_name: 'Notes',
    };
    for (const path of [
      '/.well-known/oauth-protected-resource/mcp',
      '/.well-known/oauth-protected-resource',
    ]) {
      const res = await fetch(new URL(path, server.url));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      expect(res.headers.get('access-control-allow-origin')).toBe('*');
      expect(await res.json()).toEqual(expected);
    }
  });

  it('is what the resource_metadata of the 401 challenge points to', async () => {
    server = await start();
    const res = await fetch(server.url, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(401);
    const url = /resource_metadata="([^"]+)"/.exec(res.headers.get('www-authenticate')!)![1]!;
    expect(url).toBe(new URL('/.well-known/oauth-protected-resource/mcp', server.url).href);
    expect(((await (await fetch(url)).json()) as { resource: string }).resource).toBe(server.resource);
  });

  it('answers HEAD without a body, OPTIONS with 204, and other methods with 405', async () => {
    server = await start();
    const url = new URL('/.well-known/oauth-protected-resource/mcp', server.url);
    const head = await fetch(url, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(url, { method: 'OPTIONS' })).status).toBe(204);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('lives only at the root for a resource without a path', () => {
    expect(metadataPaths('https://mcp.example.com')).toEqual(['/.well-known/oauth-protected-resource']);
    expect(metadataPaths('https://mcp.example.com/a/mcp/')).toEqual([
      '/.well-known/oauth-protected-resource/a/mcp',
      '/.well-known/oauth-protected-resource',
    ]);
  });
});

describe('oauth() options', () => {
  const base: OAuthOptions = { resource: 'https://mcp.example.com/mcp', authorizationServers: [ISSUER] };
  const bad: Array<[string, Partial<OAuthOptions> | Record<string, unknown>, RegExp]> = [
    ['a relative resource', { resource: '/mcp' }, /resource must be an absolute/],
    [
      'a resource with a fragment',
      { resource: 'https://mcp.example.com/mcp#x' },
      /resource must not have a fragment/,
    ],
    ['a non-http resource', { resource: 'ftp://mcp.example.com/mcp' }, /resource must be an http\(s\) URL/],
    [
      'an http issuer on a host that is not loopback',
      { authorizationServers: ['http://auth.example.com'] },
      /authorizationServers\[0\]\.issuer must use https \(http is accepted for loopback hosts only\)/,
    ],
    [
      'an http jwksUri on a host that is not loopback',
      { authorizationServers: [{ issuer: ISSUER, jwksUri: 'http://keys.example.com/jwks' }] },
      /authorizationServers\[0\]\.jwksUri must use https/,
    ],
    [
      'an http introspection endpoint on a host that is not loopback',
      { introspection: { endpoint: 'http://auth.example.com/introspect', clientId: 'a', clientSecret: 'b' } },
      /introspection\.endpoint must use https/,
    ],
    ['the same issuer twice', { authorizationServers: [ISSUER, ISSUER] }, /lists an issuer twice/],
    [
      "an issuer's short HMAC secret",
      { authorizationServers: [{ issuer: ISSUER, hmacSecret: 'short' }], algorithms: ['HS256'] },
      /authorizationServers\[0\]\.hmacSecret must be at least 32 bytes/,
    ],
    [
      'a required claim with a quote',
      { requiredClaims: ['a"b'] },
      /requiredClaims has an invalid claim name/,
    ],
    ['requiredClaims that is not a list', { requiredClaims: 'jti' }, /requiredClaims must be an array/],
    ['a zero maxTokenAge', { maxTokenAge: 0 }, /maxTokenAge must be more than 0/],
    ['a malformed maxTokenAge', { maxTokenAge: 'long' }, /maxTokenAge must be/],
    [
      'an introspection limit of zero calls',
      { introspection: { clientId: 'a', clientSecret: 'b', clientLimit: { calls: 0, per: '1m' } } },
      /clientLimit must allow at least one call/,
    ],
    ['a clock that is not a function', { clock: 5 }, /clock must be a function/],
    ['no authorization servers', { authorizationServers: [] }, /authorizationServers must list at least one/],
    [
      'an issuer with a query',
      { authorizationServers: ['https://a.example?x=1'] },
      /issuer must not have a query/,
    ],
    ['alg none', { algorithms: ['none'] }, /never include 'none'/],
    ['an unknown algorithm', { algorithms: ['RS1'] }, /unknown algorithm "RS1"/],
    ['HS256 without a secret', { algorithms: ['HS256'] }, /lists HS256, which needs hmacSecret/],
    [
      'a short HMAC secret',
      { algorithms: ['HS256'], hmacSecret: 'short' },
      /hmacSecret must be at least 32 bytes/,
    ],
    ['a secret without an HS algorithm', { hmacSecret: 'x'.repeat(32) }, /no HS algorithm/],
    ['a scope with a space', { requiredScopes: ['a b'] }, /requiredScopes has an invalid scope/],
    [
      'a tool scope with a quote',
      { toolScopes: { tools: { t: ['a"'] } } },
      /toolScopes.tools.t has an invalid scope/,
    ],
    ['a bad clock tolerance', { clockTolerance: 'soon' }, /clockTolerance must be/],
    ['a zero timeout', { timeout: 0 }, /timeout must be more than 0/],
    ['a negative token cache', { tokenCacheMax: -1 }, /tokenCacheMax must be a whole number/],
    [
      'introspection by an unknown issuer',
      { introspection: { issuer: 'https://x.example', clientId: 'a', clientSecret: 'b' } },
      /introspection.issuer must be one of/,
    ],
    [
      'introspection without a secret',
      { introspection: { clientId: 'a', clientSecret: '' } },
      /clientSecret is required/,
    ],
  ];
  for (const [what, options, message] of bad) {
    it(`throws a TypeError naming the option for ${what}`, () => {
      expect(() => oauth({ ...base, ...options } as OAuthOptions)).toThrow(TypeError);
      expect(() => oauth({ ...base, ...options } as OAuthOptions)).toThrow(message);
    });
  }

  it('accepts http for loopback issuers, JWKS and introspection endpoints (local development)', () => {
    expect(() =>
      oauth({
        ...base,
        authorizationServers: [
          'http://localhost:8080/realms/dev',
          { issuer: 'http://127.0.0.1:9000', jwksUri: 'http://[::1]:9000/jwks' },
        ],
        introspection: { endpoint: 'http://127.0.0.1:9000/introspect', clientId: 'a', clientSecret: 'b' },
      }),
    ).not.toThrow();
  });

  it('accepts issuers with their own JWKS URL and defaults the supported scopes to every scope it names', () => {
    const m = oauth({
      ...base,
      authorizationServers: [{ issuer: ISSUER, jwksUri: `${ISSUER}/keys` }],
      requiredScopes: ['a'],
      toolScopes: { tools: { t: ['b', 'a'] }, default: ['c'] },
    });
    expect(m.metadata.scopes_supported).toEqual(['a', 'b', 'c']);
    expect(m.resourceMetadataUrl).toBe('https://mcp.example.com/.well-known/oauth-protected-resource/mcp');
    expect(typeof m.rpc).toBe('function');
    expect(oauth(base).rpc).toBeUndefined();
  });
});

describe('extractBearerToken', () => {
  const url = new URL('https://mcp.example.com/mcp');
  it('takes the token from the Authorization header, any case of the scheme, with padding', () => {
    expect(extractBearerToken(new Headers({ authorization: 'Bearer abc.def-_~+/==' }), url)).toEqual({
      ok: true,
      token: 'abc.def-_~+/==',
    });
    expect(extractBearerToken(new Headers({ authorization: 'BEARER   abc' }), url)).toEqual({
      ok: true,
      token: 'abc',
    });
  });

  it('treats a missing header and another scheme alike, and refuses a query token even with a header', () => {
    expect(extractBearerToken(new Headers(), url)).toEqual({ ok: false, reason: 'missing' });
    expect(extractBearerToken(new Headers({ authorization: 'DPoP abc' }), url)).toEqual({
      ok: false,
      reason: 'missing',
    });
    const query = new URL('https://mcp.example.com/mcp?access_token=abc');
    expect(extractBearerToken(new Headers({ authorization: 'Bearer abc' }), query)).toMatchObject({
      reason: 'malformed',
    });
  });

  it('reads the URL as a string the same way, query token included', () => {
    const bearer = new Headers({ authorization: 'Bearer abc' });
    expect(extractBearerToken(bearer, 'https://mcp.example.com/mcp')).toEqual({ ok: true, token: 'abc' });
    expect(extractBearerToken(bearer, 'https://mcp.example.com/mcp?x=1')).toEqual({ ok: true, token: 'abc' });
    expect(extractBearerToken(bearer, 'https://mcp.example.com/mcp?x=1&access_token=abc')).toMatchObject({
      reason: 'malformed',
    });
  });
});

describe('formatChallenge', () => {
  it('puts error first and the description last, escapes quotes, and drops scopes that are not scope tokens', () => {
    expect(
      formatChallenge({
        error: 'insufficient_scope',
        scope: ['a', 'b"c', 'd'],
        resourceMetadata: 'https://x.example/.well-known/oauth-protected-resource',
        description: 'needs "more" scope=x',
      }),
    ).toBe(
      'Bearer error="insufficient_scope", scope="a d", resource_metadata="https://x.example/.well-known/oauth-protected-resource", error_description="needs \\"more\\" scope x"',
    );
  });
});

describe('checkToolCalls', () => {
  const policy = { tools: { write: ['w'], admin: ['a', 'w'] } };
  const authInfo = { token: 't', clientId: 'c', scopes: ['r'] };
  const call = (name: string, id = 1) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name } });

  it('lets through other methods and tools the token may call', () => {
    expect(checkToolCalls({ jsonrpc: '2.0', id: 1, method: 'tools/list' }, policy, authInfo)).toEqual({
      ok: true,
    });
    expect(checkToolCalls(call('read'), policy, authInfo)).toEqual({ ok: true });
    expect(checkToolCalls(undefined, policy, authInfo)).toEqual({ ok: true });
  });

  it('names every scope the calls of a batch need', () => {
    expect(checkToolCalls([call('write'), call('admin', 2)], policy, authInfo)).toEqual({
      ok: false,
      required: ['w', 'a'],
    });
  });
});

describe('checkJwtHeader', () => {
  const algorithms = new Set(['RS256']);
  it('with requireAtJwtType off, also accepts typ JWT or none, and still refuses other token types', () => {
    expect(checkJwtHeader({ alg: 'RS256', typ: 'JWT' }, algorithms, false)).toEqual({ ok: true });
    expect(checkJwtHeader({ alg: 'RS256' }, algorithms, false)).toEqual({ ok: true });
    expect(checkJwtHeader({ alg: 'RS256', typ: 'logout+jwt' }, algorithms, false)).toEqual({
      ok: false,
      description: 'The token is not an access token (typ)',
    });
    expect(checkJwtHeader({ alg: 'RS256', typ: 'JWT' }, algorithms, true).ok).toBe(false);
  });
});

describe('checkIntrospection', () => {
  const policy = {
    issuer: ISSUER,
    resource: 'https://mcp.example.com/mcp',
    clockTolerance: 0,
    requireAudience: true,
  };
  const now = 1_000_000;
  const active = {
    active: true,
    client_id: 'c',
    aud: policy.resource,
    exp: now + 60,
    scope: 'a b',
    sub: 'u',
  };
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['inactive', { active: false }, 'The token is not active'],
    ['active as a string', { ...active, active: 'true' }, 'The token is not active'],
    ['another issuer', { ...active, iss: 'https://x.example' }, 'The token is from an untrusted issuer'],
    ['a DPoP token type', { ...active, token_type: 'DPoP' }, 'The token is not a bearer token'],
    ['no audience', { ...active, aud: undefined }, 'The token has no audience'],
    [
      'another audience',
      { ...active, aud: ['https://x.example'] },
      'The token is not meant for this resource',
    ],
    ['expired', { ...active, exp: now }, 'The token has expired'],
    ['no client', { ...active, client_id: undefined }, 'The token names no client'],
    ['cnf', { ...active, cnf: { jkt: 'x' } }, 'The token is sender-constrained'],
  ];
  for (const [what, response, description] of cases) {
    it(`refuses an answer with ${what}`, () => {
      expect(checkIntrospection('t', response, policy, now)).toEqual({ ok: false, description });
    });
  }

  it('accepts an active answer for this resource, with a bearer token type and no expiry when not required', () => {
    const decision = checkIntrospection('t', { ...active, token_type: 'Bearer' }, policy, now);
    expect(decision).toMatchObject({
      ok: true,
      authInfo: { clientId: 'c', scopes: ['a', 'b'], expiresAt: now + 60 },
    });
    expect(checkIntrospection('t', { ...active, exp: undefined }, policy, now).ok).toBe(true);
    expect(
      checkIntrospection('t', { ...active, aud: undefined }, { ...policy, requireAudience: false }, now).ok,
    ).toBe(true);
  });
});

describe('ExpiringCache', () => {
  it('forgets entries at their expiry and evicts the least recently used beyond its bound', () => {
    const cache = new ExpiringCache<number>(2);
    cache.set('a', 1, 100, 0);
    cache.set('b', 2, 100, 0);
    expect(cache.get('a', 50)).toBe(1); // a is now the most recently used
    cache.set('c', 3, 100, 0);
    expect(cache.size).toBe(2);
    expect(cache.get('b', 50)).toBeUndefined();
    expect(cache.get('a', 50)).toBe(1);
    expect(cache.get('a', 100)).toBeUndefined();
    cache.set('d', 4, 10, 20); // already expired: not stored
    expect(cache.get('d', 0)).toBeUndefined();
  });

  it('stores nothing with a bound of 0', () => {
    const cache = new ExpiringCache<number>(0);
    cache.set('a', 1, 100, 0);
    expect(cache.size).toBe(0);
  });
});
