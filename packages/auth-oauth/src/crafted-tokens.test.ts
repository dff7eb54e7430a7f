import { sign as cryptoSign, KeyObject } from 'node:crypto';
import { connect } from 'node:net';
import { createMiddlewareHandler } from '@mcp-middleware/core';
import { fixtureServer, initializeRequest, postJsonRpc } from '@mcp-middleware/core/testing';
import {
  CompactSign,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  type JWK,
  type JWTHeaderParameters,
  type JWTPayload,
  SignJWT,
} from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { oauth } from './oauth.js';
import type { OAuthOptions } from './options.js';
import {
  type KeyServer,
  type ProtectedServer,
  READ,
  startKeyServer,
  startProtectedServer,
} from './test-fixtures.js';

const HMAC_SECRET = 'a-shared-secret-of-at-least-32-bytes!!';

let keys: KeyServer;
let server: ProtectedServer;
let hmacServer: ProtectedServer;
let rsa: CryptoKey;
let rsaPublicPem: string;
let attacker: { privateKey: CryptoKey; publicJwk: JWK };
let ec: CryptoKey;
let rsaForRs384: CryptoKey;

beforeAll(async () => {
  const rsaPair = await generateKeyPair('RS256', { extractable: true });
  const ecPair = await generateKeyPair('ES256', { extractable: true });
  const attackerPair = await generateKeyPair('RS256', { extractable: true });
  rsa = rsaPair.privateKey;
  rsaForRs384 = (await generateKeyPair('RS384')).privateKey;
  ec = ecPair.privateKey;
  rsaPublicPem = await exportSPKI(rsaPair.publicKey);
  attacker = { privateKey: attackerPair.privateKey, publicJwk: await exportJWK(attackerPair.publicKey) };
  keys = await startKeyServer([
    { ...(await exportJWK(rsaPair.publicKey)), kid: 'rsa-1', use: 'sig' },
    { ...(await exportJWK(ecPair.publicKey)), kid: 'ec-1', use: 'sig', alg: 'ES256' },
  ]);
  const options = (resource: string) => ({
    resource,
    authorizationServers: [keys.issuer],
    requiredScopes: [READ],
    clockTolerance: '5s' as const,
  });
  server = await startProtectedServer((resource) => oauth(options(resource)));
  hmacServer = await startProtectedServer((resource) =>
    oauth({ ...options(resource), algorithms: ['RS256', 'HS256'], hmacSecret: HMAC_SECRET }),
  );
});

afterAll(async () => {
  await server?.close();
  await hmacServer?.close();
  await keys?.close();
});

const now = () => Math.floor(Date.now() / 1000);

function claims(overrides: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = {
    iss: keys.issuer,
    aud: server.resource,
    exp: now() + 300,
    iat: now(),
    sub: 'user-1',
    client_id: 'client-1',
    scope: READ,
    jti: crypto.randomUUID(),
  };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base as JWTPayload;
}

const HEADER = { alg: 'RS256', kid: 'rsa-1', typ: 'at+jwt' };

function header(overrides: Record<string, unknown> = {}): JWTHeaderParameters {
  const h: Record<string, unknown> = { ...HEADER };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete h[k];
    else h[k] = v;
  }
  return h as JWTHeaderParameters;
}

function sign(
  payload: JWTPayload = claims(),
  h: JWTHeaderParameters = header(),
  key: CryptoKey | Uint8Array = rsa,
): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(h).sign(key);
}

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Signs what jose refuses to produce (unknown `crit`, `b64: false`), as an attacker would. */
function rawSign(h: Record<string, unknown>, payloadSegment: string): string {
  const input = `${b64(h)}.${payloadSegment}`;
  const signature = cryptoSign('sha256', Buffer.from(input), KeyObject.from(rsa));
  return `${input}.${signature.toString('base64url')}`;
}

const DAY = 86_400;

/** Tokens RFC 9068 (§2.2, §4) says to refuse, each with the one claim that makes it so. */
const STRICT_CASES: Array<[string, () => Record<string, unknown>, string]> = [
  ['no iat', () => ({ iat: undefined }), 'The token lacks the required claim iat'],
  ['no sub', () => ({ sub: undefined }), 'The token lacks the required claim sub'],
  ['no jti', () => ({ jti: undefined }), 'The token lacks the required claim jti'],
  [
    'azp standing in for client_id',
    () => ({ client_id: undefined, azp: 'client-1' }),
    'The token lacks the required claim client_id',
  ],
  [
    'an expiry ten years ahead',
    () => ({ exp: now() + 3650 * DAY }),
    'The token expires too far in the future (exp is beyond the maximum token age)',
  ],
  [
    'an iat thirty days old',
    () => ({ iat: now() - 30 * DAY }),
    'The token was issued too long ago (iat is beyond the maximum token age)',
  ],
];

interface Case {
  name: string;
  token?: () => Promise<string> | string;
  headers?: () => Promise<Record<string, string>> | Record<string, string>;
  query?: () => Promise<string> | string;
  target?: () => ProtectedServer;
  status: number;
  /** The exact challenge; `{rm}` stands for the resource_metadata URL. Undefined: no challenge expected. */
  challenge?: string;
}

const NO_TOKEN = 'Bearer scope="tools:read", resource_metadata="{rm}"';
const invalidToken = (description: string) =>
  `Bearer error="invalid_token", scope="tools:read", resource_metadata="{rm}", error_description="${description}"`;
const invalidRequest = (description: string) =>
  `Bearer error="invalid_request", scope="tools:read", resource_metadata="{rm}", error_description="${description}"`;

const NOT_ACCEPTED_ALG = invalidToken('The token is signed with an algorithm that is not accepted');
const OWN_KEY = invalidToken('The token header names its own key');
const NOT_AT = invalidToken('The token is not an access token (typ)');
const UNTRUSTED = invalidToken('The token is from an untrusted issuer');
const BAD_SIGNATURE = invalidToken('The token signature is invalid');
const MALFORMED = invalidToken('The token is malformed');

const cases: Case[] = [
  // Requests
  { name: 'no Authorization header', status: 401, challenge: NO_TOKEN },
  {
    name: 'another scheme (Basic)',
    headers: () => ({ authorization: 'Basic dXNlcjpwYXNz' }),
    status: 401,
    challenge: NO_TOKEN,
  },
  {
    name: 'a token in the query string',
    query: async () => `access_token=${await sign()}`,
    status: 400,
    challenge: invalidRequest('Access tokens must not be sent in the query string'),
  },
  {
    name: 'a token in the query string besides a valid header',
    query: async () => `access_token=${await sign()}`,
    headers: async () => ({ authorization: `Bearer ${await sign()}` }),
    status: 400,
    challenge: invalidRequest('Access tokens must not be sent in the query string'),
  },
  {
    name: 'two Authorization headers',
    headers: async () => ({ authorization: `Bearer ${await sign()}, Bearer ${await sign()}` }),
    status: 400,
    challenge: invalidRequest('The request has more than one Authorization header'),
  },
  {
    name: 'Bearer without a token',
    headers: () => ({ authorization: 'Bearer' }),
    status: 400,
    challenge: invalidRequest('The Authorization header is not a well-formed Bearer credential'),
  },
  {
    name: 'Bearer with two tokens separated by a space',
    headers: () => ({ authorization: 'Bearer abc def' }),
    status: 400,
    challenge: invalidRequest('The Authorization header is not a well-formed Bearer credential'),
  },
  {
    name: 'a token with characters outside b64token',
    headers: () => ({ authorization: 'Bearer abc"def' }),
    status: 400,
    challenge: invalidRequest('The Authorization header is not a well-formed Bearer credential'),
  },
  {
    name: 'an empty Authorization header',
    headers: () => ({ authorization: '' }),
    status: 400,
    challenge: invalidRequest('The Authorization header is empty'),
  },
  // Well-formed controls: each must pass, or the refusals above prove nothing.
  { name: 'a valid token', token: () => sign(), status: 200 },
  {
    name: 'a valid token with a lowercase scheme',
    headers: async () => ({ authorization: `bearer ${await sign()}` }),
    status: 200,
  },
  {
    name: 'typ application/at+jwt',
    token: () => sign(claims(), header({ typ: 'application/at+jwt' })),
    status: 200,
  },
  {
    name: 'aud as a list containing this resource',
    token: () => sign(claims({ aud: ['https://x.example', server.resource] })),
    status: 200,
  },
  {
    name: 'expiry just inside the clock tolerance',
    token: () => sign(claims({ exp: now() - 2 })),
    status: 200,
  },
  {
    name: 'an ES256 token with its own kid',
    token: () => sign(claims(), header({ alg: 'ES256', kid: 'ec-1' }), ec),
    status: 200,
  },
  // Algorithms
  {
    name: 'alg none',
    token: () => `${b64({ alg: 'none', typ: 'at+jwt' })}.${b64(claims())}.`,
    status: 401,
    challenge: NOT_ACCEPTED_ALG,
  },
  {
    name: 'alg None (mixed case)',
    token: () => `${b64({ alg: 'None', typ: 'at+jwt' })}.${b64(claims())}.`,
    status: 401,
    challenge: NOT_ACCEPTED_ALG,
  },
  {
    name: 'alg missing',
    token: () => `${b64({ typ: 'at+jwt', kid: 'rsa-1' })}.${b64(claims())}.c2ln`,
    status: 401,
    challenge: NOT_ACCEPTED_ALG,
  },
  {
    name: 'HS256 signed with the RSA public key (algorithm confusion)',
    token: () => sign(claims(), header({ alg: 'HS256' }), new TextEncoder().encode(rsaPublicPem)),
    status: 401,
    challenge: NOT_ACCEPTED_ALG,
  },
  {
    name: 'HS256 when no HMAC secret is configured',
    token: () =>
      sign(claims(), header({ alg: 'HS256', kid: undefined }), new TextEncoder().encode(HMAC_SECRET)),
    status: 401,
    challenge: NOT_ACCEPTED_ALG,
  },
  {
    name: 'RS384, not on the allow list',
    token: () => sign(claims(), header({ alg: 'RS384' }), rsaForRs384),
    status: 401,
    challenge: NOT_ACCEPTED_ALG,
  },
  // Keys
  {
    name: 'an unknown kid',
    token: () => sign(claims(), header({ kid: 'forged-kid' })),
    status: 401,
    challenge: invalidToken('The token is signed with an unknown key'),
  },
  {
    name: 'an ES256 header naming the RSA kid',
    token: () => sign(claims(), header({ alg: 'ES256', kid: 'rsa-1' }), ec),
    status: 401,
    challenge: invalidToken('The token is signed with an unknown key'),
  },
  {
    name: 'a signature by another key under our kid',
    token: () => sign(claims(), header(), attacker.privateKey),
    status: 401,
    challenge: BAD_SIGNATURE,
  },
  {
    name: 'a tampered payload (scope raised) under the original signature',
    token: async () => {
      const [h, , s] = (await sign()).split('.');
      return `${h}.${b64(claims({ scope: 'tools:read tools:admin' }))}.${s}`;
    },
    status: 401,
    challenge: BAD_SIGNATURE,
  },
  {
    name: 'a kid that is not a string',
    token: () => sign(claims(), header({ kid: 7 })),
    status: 401,
    challenge: invalidToken('The token header has a malformed key id'),
  },
  {
    name: 'an embedded jwk (header key injection)',
    token: () => sign(claims(), header({ kid: undefined, jwk: attacker.publicJwk }), attacker.privateKey),
    status: 401,
    challenge: OWN_KEY,
  },
  {
    name: 'a jku pointing elsewhere',
    token: () => sign(claims(), header({ jku: 'https://attacker.example/jwks' }), attacker.privateKey),
    status: 401,
    challenge: OWN_KEY,
  },
  {
    name: 'an x5u header',
    token: () => sign(claims(), header({ x5u: 'https://attacker.example/cert.pem' })),
    status: 401,
    challenge: OWN_KEY,
  },
  {
    name: 'an x5c header',
    token: () => sign(claims(), header({ x5c: ['MIIB'] })),
    status: 401,
    challenge: OWN_KEY,
  },
  {
    name: 'a critical header parameter nobody understands',
    token: () =>
      rawSign(header({ crit: ['urn:example:unknown'], 'urn:example:unknown': true }), b64(claims())),
    status: 401,
    challenge: invalidToken('The token signature could not be verified'),
  },
  {
    name: 'an unencoded payload (b64 false), which a JWT must not use',
    token: () => rawSign(header({ b64: false, crit: ['b64'] }), b64(claims())),
    status: 401,
    challenge: MALFORMED,
  },
  // Type
  { name: 'no typ', token: () => sign(claims(), header({ typ: undefined })), status: 401, challenge: NOT_AT },
  {
    name: 'typ JWT (an ID token, say)',
    token: () => sign(claims(), header({ typ: 'JWT' })),
    status: 401,
    challenge: NOT_AT,
  },
  {
    name: 'typ dpop+jwt',
    token: () => sign(claims(), header({ typ: 'dpop+jwt' })),
    status: 401,
    challenge: NOT_AT,
  },
  // Issuer and audience
  {
    name: 'another issuer',
    token: () => sign(claims({ iss: 'https://evil.example' })),
    status: 401,
    challenge: UNTRUSTED,
  },
  { name: 'no issuer', token: () => sign(claims({ iss: undefined })), status: 401, challenge: UNTRUSTED },
  {
    name: 'the issuer with a trailing slash',
    token: () => sign(claims({ iss: `${keys.issuer}/` })),
    status: 401,
    challenge: UNTRUSTED,
  },
  {
    name: 'another audience',
    token: () => sign(claims({ aud: 'https://other.example/mcp' })),
    status: 401,
    challenge: invalidToken('The token is not meant for this resource'),
  },
  {
    name: 'our resource with a trailing slash',
    token: () => sign(claims({ aud: `${server.resource}/` })),
    status: 401,
    challenge: invalidToken('The token is not meant for this resource'),
  },
  {
    name: 'no audience',
    token: () => sign(claims({ aud: undefined })),
    status: 401,
    challenge: invalidToken('The token has no audience'),
  },
  {
    name: 'an empty audience list',
    token: () => sign(claims({ aud: [] })),
    status: 401,
    challenge: invalidToken('The token has no audience'),
  },
  // Time
  {
    name: 'no expiry',
    token: () => sign(claims({ exp: undefined })),
    status: 401,
    challenge: invalidToken('The token has no expiry'),
  },
  {
    name: 'expired beyond the tolerance',
    token: () => sign(claims({ exp: now() - 10 })),
    status: 401,
    challenge: invalidToken('The token has expired'),
  },
  {
    name: 'expiry as a string',
    token: () => sign(claims({ exp: String(now() + 300) })),
    status: 401,
    challenge: invalidToken('The token has a malformed expiry'),
  },
  {
    name: 'not valid yet (nbf)',
    token: () => sign(claims({ nbf: now() + 60 })),
    status: 401,
    challenge: invalidToken('The token is not valid yet'),
  },
  {
    name: 'issued in the future (iat)',
    token: () => sign(claims({ iat: now() + 60 })),
    status: 401,
    challenge: invalidToken('The token was issued in the future'),
  },
  // RFC 9068 §2.2 required claims, and the maximum token age (each relaxed one at a time further down)
  ...STRICT_CASES.map(
    ([name, overrides, description]): Case => ({
      name,
      token: () => sign(claims(overrides())),
      status: 401,
      challenge: invalidToken(description),
    }),
  ),
  {
    name: 'no client_id or azp',
    token: () => sign(claims({ client_id: undefined })),
    status: 401,
    challenge: invalidToken('The token lacks the required claim client_id'),
  },
  {
    name: 'an empty sub',
    token: () => sign(claims({ sub: '' })),
    status: 401,
    challenge: invalidToken('The token lacks the required claim sub'),
  },
  {
    name: 'jti as a number',
    token: () => sign(claims({ jti: 7 })),
    status: 401,
    challenge: invalidToken('The token has a malformed jti'),
  },
  {
    name: 'client_id as a number',
    token: () => sign(claims({ client_id: 7 })),
    status: 401,
    challenge: invalidToken('The token has a malformed client_id'),
  },
  {
    name: 'iat as a string',
    token: () => sign(claims({ iat: String(now()) })),
    status: 401,
    challenge: invalidToken('The token has a malformed issue time'),
  },
  {
    name: 'an expiry just inside the maximum token age (24h)',
    token: () => sign(claims({ exp: now() + 86_400 })),
    status: 200,
  },
  {
    name: 'a sender constraint (cnf)',
    token: () => sign(claims({ cnf: { jkt: 'abc' } })),
    status: 401,
    challenge: invalidToken('The token is sender-constrained'),
  },
  {
    name: 'scope as a number',
    token: () => sign(claims({ scope: 42 })),
    status: 401,
    challenge: invalidToken('The token has malformed scopes'),
  },
  {
    name: 'sub as a number',
    token: () => sign(claims({ sub: 42 })),
    status: 401,
    challenge: invalidToken('The token has a malformed sub'),
  },
  // Malformed
  {
    name: 'a signed payload that is not JSON',
    token: () => new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader(header()).sign(rsa),
    status: 401,
    challenge: MALFORMED,
  },
  {
    name: 'a header that is not base64url JSON',
    token: () => `%%%%.${b64(claims())}.c2ln`,
    status: 400,
    challenge: invalidRequest('The Authorization header is not a well-formed Bearer credential'),
  },
  {
    name: 'a header that decodes to garbage',
    token: () => `${b64('{{{')}.${b64(claims())}.c2ln`,
    status: 401,
    challenge: MALFORMED,
  },
  {
    name: 'a header that is a JSON array',
    token: () => `${b64([1])}.${b64(claims())}.c2ln`,
    status: 401,
    challenge: MALFORMED,
  },
  {
    name: 'a payload that is not JSON',
    token: () => `${b64(HEADER)}.${b64('nope')}.c2ln`,
    status: 401,
    challenge: MALFORMED,
  },
  {
    name: 'two segments (opaque, no introspection)',
    token: () => 'abc.def',
    status: 401,
    challenge: invalidToken('The token is not a JWT'),
  },
  {
    name: 'five segments (a JWE)',
    token: () => 'a.b.c.d.e',
    status: 401,
    challenge: invalidToken('Encrypted tokens are not accepted'),
  },
  {
    name: 'a token longer than 8 KiB',
    token: () => 'a'.repeat(9000),
    status: 401,
    challenge: invalidToken('The token is too long'),
  },
  // Scope
  {
    name: 'a valid token without the required scope',
    token: () => sign(claims({ scope: 'other' })),
    status: 403,
    challenge:
      // The scopes the request needs, never the token's own (`other`).
      'Bearer error="insufficient_scope", scope="tools:read", resource_metadata="{rm}", error_description="The token lacks a scope this request needs"',
  },
  // HMAC, when configured
  {
    name: 'HS256 with the configured secret',
    target: () => hmacServer,
    token: () =>
      sign(
        claims({ aud: hmacServer.resource }),
        header({ alg: 'HS256', kid: undefined }),
        new TextEncoder().encode(HMAC_SECRET),
      ),
    status: 200,
  },
  {
    name: 'HS256 signed with the RSA public key where HMAC is configured (algorithm confusion)',
    target: () => hmacServer,
    token: () =>
      sign(
        claims({ aud: hmacServer.resource }),
        header({ alg: 'HS256', kid: 'rsa-1' }),
        new TextEncoder().encode(rsaPublicPem),
      ),
    status: 401,
    challenge: BAD_SIGNATURE,
  },
];

describe('crafted tokens and requests', () => {
  it('covers at least 40 refusals', () => {
    expect(cases.filter((c) => c.status !== 200).length).toBeGreaterThanOrEqual(40);
  });

  for (const c of cases) {
    const expectation =
      c.status === 200 ? 'is accepted' : `gets ${c.status}${c.challenge ? ' with the exact challenge' : ''}`;
    it(`${c.name}: ${expectation}`, async () => {
      const target = c.target?.() ?? server;
      const headers: Record<string, string> = { ...(await c.headers?.()) };
      if (c.token) headers['authorization'] = `Bearer ${await c.token()}`;
      const url = new URL(target.url);
      if (c.query) url.search = await c.query();
      const res = await postJsonRpc(url, initializeRequest(), headers);
      const body = await res.text();
      expect(res.status, body).toBe(c.status);
      if (c.status === 200) {
        expect(res.headers.get('www-authenticate')).toBeNull();
        return;
      }
      expect(res.headers.get('www-authenticate')).toBe(
        c.challenge?.replace('{rm}', target.middleware.resourceMetadataUrl) ?? null,
      );
      // Nothing from the token is echoed, and the body is a JSON-RPC error.
      const parsed = JSON.parse(body) as { error: { message: string } };
      expect(parsed.error.message).not.toMatch(/eyJ/);
      const sent = headers['authorization']?.slice(7, 40) ?? '';
      if (sent.length > 16) expect(body).not.toContain(sent);
    });
  }
});

describe('relaxing or tightening the RFC 9068 rules', () => {
  /** Each option, and the strict cases it lets through: every other case stays refused with its description. */
  const relaxations: Array<[string, Partial<OAuthOptions>, string[]]> = [
    ["requiredClaims without 'iat'", { requiredClaims: ['sub', 'jti', 'client_id'] }, ['no iat']],
    ["requiredClaims without 'sub'", { requiredClaims: ['iat', 'jti', 'client_id'] }, ['no sub']],
    ["requiredClaims without 'jti'", { requiredClaims: ['iat', 'sub', 'client_id'] }, ['no jti']],
    [
      "requiredClaims without 'client_id'",
      { requiredClaims: ['iat', 'sub', 'jti'] },
      ['azp standing in for client_id'],
    ],
    [
      "maxTokenAge '3651d'",
      { maxTokenAge: '3651d' },
      ['an expiry ten years ahead', 'an iat thirty days old'],
    ],
  ];
  const relaxed = new Map<string, ProtectedServer>();
  beforeAll(async () => {
    for (const [name, options] of relaxations) {
      relaxed.set(
        name,
        await startProtectedServer((resource) =>
          oauth({ resource, authorizationServers: [keys.issuer], ...options }),
        ),
      );
    }
  });
  afterAll(async () => {
    for (const s of relaxed.values()) await s.close();
  });

  async function status(target: ProtectedServer, overrides: Record<string, unknown>) {
    const token = await sign(claims({ aud: target.resource, ...overrides }));
    const res = await postJsonRpc(target.url, initializeRequest(), { authorization: `Bearer ${token}` });
    await res.body?.cancel();
    return { status: res.status, challenge: res.headers.get('www-authenticate') };
  }

  for (const [name, , accepted] of relaxations) {
    it(`${name} accepts ${accepted.join(' and ')}, and nothing else it refused`, async () => {
      const target = relaxed.get(name)!;
      for (const [strictCase, overrides, description] of STRICT_CASES) {
        const answer = await status(target, overrides());
        if (accepted.includes(strictCase)) {
          expect(answer, strictCase).toEqual({ status: 200, challenge: null });
        } else {
          expect(answer.status, strictCase).toBe(401);
          expect(answer.challenge, strictCase).toContain(`error_description="${description}"`);
        }
      }
      // Without client_id, azp stands in; a token naming no client at all is still refused.
      expect((await status(target, { client_id: undefined })).challenge).toMatch(/names no client|client_id/);
    });
  }

  it('tightens: a shorter maxTokenAge refuses a 5-minute token, and requiredClaims can demand more claims', async () => {
    const short = await startProtectedServer((resource) =>
      oauth({ resource, authorizationServers: [keys.issuer], maxTokenAge: '1m' }),
    );
    const more = await startProtectedServer((resource) =>
      oauth({
        resource,
        authorizationServers: [keys.issuer],
        requiredClaims: ['iat', 'sub', 'jti', 'client_id', 'auth_time'],
      }),
    );
    try {
      expect((await status(short, {})).challenge).toContain(
        'error_description="The token expires too far in the future (exp is beyond the maximum token age)"',
      );
      expect((await status(short, { exp: now() + 50 })).status).toBe(200);
      expect((await status(more, {})).challenge).toContain(
        'error_description="The token lacks the required claim auth_time"',
      );
      expect((await status(more, { auth_time: now() })).status).toBe(200);
    } finally {
      await short.close();
      await more.close();
    }
  });
});

describe('HMAC secrets with several issuers', () => {
  const A = { issuer: 'https://a.example', hmacSecret: 'secret-of-issuer-a-at-least-32-bytes!' };
  const B = { issuer: 'https://b.example', hmacSecret: 'secret-of-issuer-b-at-least-32-bytes!' };
  let target: ProtectedServer;
  beforeAll(async () => {
    target = await startProtectedServer((resource) =>
      oauth({ resource, authorizationServers: [A, B, 'https://c.example'], algorithms: ['RS256', 'HS256'] }),
    );
  });
  afterAll(() => target?.close());

  async function answer(iss: string, secret: string) {
    const token = await sign(
      claims({ iss, aud: target.resource }),
      header({ alg: 'HS256', kid: undefined }),
      new TextEncoder().encode(secret),
    );
    const res = await postJsonRpc(target.url, initializeRequest(), { authorization: `Bearer ${token}` });
    await res.body?.cancel();
    return { status: res.status, challenge: res.headers.get('www-authenticate') };
  }

  it("verifies each issuer's HS256 tokens with that issuer's own secret", async () => {
    expect((await answer(A.issuer, A.hmacSecret)).status).toBe(200);
    expect((await answer(B.issuer, B.hmacSecret)).status).toBe(200);
  });

  it("refuses a token naming one issuer but signed with another issuer's secret", async () => {
    expect(await answer(B.issuer, A.hmacSecret)).toMatchObject({ status: 401 });
    expect((await answer(B.issuer, A.hmacSecret)).challenge).toContain(
      'error_description="The token signature is invalid"',
    );
  });

  it('refuses HS256 from an issuer that has no secret', async () => {
    expect((await answer('https://c.example', A.hmacSecret)).challenge).toContain(
      'error_description="The token is signed with an algorithm that is not accepted"',
    );
  });

  it('refuses a single hmacSecret for several issuers at construction', () => {
    expect(() =>
      oauth({
        resource: 'https://mcp.example/mcp',
        authorizationServers: [A.issuer, B.issuer],
        algorithms: ['HS256'],
        hmacSecret: A.hmacSecret,
      }),
    ).toThrow(/hmacSecret is for one authorization server: with several, give each its own hmacSecret/);
  });
});

describe('two Authorization headers', () => {
  /** Sends raw HTTP/1.1 so the two headers arrive as two lines, as a hostile client would send them. */
  function rawPost(url: URL, headerLines: string[]): Promise<string> {
    const body = JSON.stringify(initializeRequest());
    return new Promise((resolve, reject) => {
      // write, not end: a half-closed socket may be dropped before a slower answer is written.
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(
          [
            `POST ${url.pathname} HTTP/1.1`,
            `Host: ${url.host}`,
            'Content-Type: application/json',
            'Accept: application/json, text/event-stream',
            `Content-Length: ${Buffer.byteLength(body)}`,
            'Connection: close',
            ...headerLines,
            '',
            body,
          ].join('\r\n'),
        );
      });
      let answer = '';
      socket.on('data', (chunk) => {
        answer += chunk.toString();
      });
      socket.on('end', () => resolve(answer));
      socket.on('error', reject);
    });
  }

  it("are refused under core's Node adapter, which keeps every header line (Node itself keeps only the first)", async () => {
    const valid = await sign();
    const answer = await rawPost(server.url, [
      `Authorization: Bearer ${valid}`,
      'Authorization: Bearer other',
    ]);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(answer).toContain('error_description="The request has more than one Authorization header"');
    // The control: one header line with the same token passes.
    expect(await rawPost(server.url, [`Authorization: Bearer ${valid}`])).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('are refused through handler.fetch, where the Fetch API joins repeated headers with a comma', async () => {
    const handler = createMiddlewareHandler({
      server: fixtureServer(),
      middleware: [oauth({ resource: server.resource, authorizationServers: [keys.issuer] })],
    });
    try {
      const headers = new Headers({
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      });
      headers.append('authorization', `Bearer ${await sign()}`);
      headers.append('authorization', `Bearer ${await sign()}`);
      const res = await handler.fetch(
        new Request(server.url, { method: 'POST', headers, body: JSON.stringify(initializeRequest()) }),
      );
      expect(res.status).toBe(400);
      expect(res.headers.get('www-authenticate')).toContain(
        'error_description="The request has more than one Authorization header"',
      );
      const single = await handler.fetch(
        new Request(server.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            authorization: `Bearer ${await sign()}`,
          },
          body: JSON.stringify(initializeRequest()),
        }),
      );
      expect(single.status).toBe(200);
      await single.body?.cancel();
    } finally {
      await handler.close({ drainTimeout: 0 });
    }
  });
});
