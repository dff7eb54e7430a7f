import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initializeRequest, postJsonRpc, waitFor } from '@mcp-middleware/core/testing';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OAuthError } from './errors.js';
import { type OAuthOptions, oauth } from './index.js';
import {
  type KeyServer,
  type ProtectedServer,
  startKeyServer,
  startProtectedServer,
} from './test-fixtures.js';

let privateKey: CryptoKey;
let publicJwk: Record<string, unknown>;
beforeAll(async () => {
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1' };
});

const cleanup: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(cleanup.splice(0).map((c) => c.close()));
});

async function keyServer(): Promise<KeyServer> {
  const keys = await startKeyServer([publicJwk]);
  cleanup.push(keys);
  return keys;
}

async function protect(options: (resource: string) => OAuthOptions): Promise<ProtectedServer> {
  const server = await startProtectedServer((resource) => oauth(options(resource)));
  cleanup.push(server);
  return server;
}

function token(
  issuer: string,
  resource: string,
  nowMs = Date.now(),
  kid = 'k1',
  key = privateKey,
): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  return new SignJWT({
    iss: issuer,
    aud: resource,
    exp: now + 60,
    iat: now,
    sub: 'u',
    client_id: 'c',
    scope: '',
    jti: crypto.randomUUID(),
  })
    .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
    .sign(key);
}

/** A clock the test moves by hand, so time-based behaviour is tested without waiting or timing. */
function manualClock() {
  const state = { now: Date.now() };
  return {
    clock: () => state.now,
    get now() {
      return state.now;
    },
    advance(ms: number) {
      state.now += ms;
    },
  };
}

/** A key server, a hand-moved clock, and a protected server that trusts the key server's issuer on that clock. */
async function clockedSetup(options: Partial<OAuthOptions> = {}) {
  const keys = await keyServer();
  const time = manualClock();
  const server = await protect((resource) => ({
    resource,
    authorizationServers: [keys.issuer],
    clock: time.clock,
    ...options,
  }));
  /** Sends `jwt`, or a new token (a token seen before is answered from the token cache, without keys). */
  const send = async (jwt?: string) =>
    postJsonRpc(server.url, initializeRequest(), {
      authorization: `Bearer ${jwt ?? (await token(keys.issuer, server.resource, time.now))}`,
    });
  const status = async (jwt?: string) => {
    const res = await send(jwt);
    await res.body?.cancel();
    return res.status;
  };
  // The first discovery URL: a 500 there ends a lookup.
  const lookups = () => keys.hits.get('/.well-known/oauth-authorization-server') ?? 0;
  return { keys, time, server, send, status, lookups };
}

/** A port nothing listens on: bound, then closed. */
async function closedPort(): Promise<string> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

async function expectUnavailable(res: Response): Promise<void> {
  expect(res.status).toBe(503);
  expect(res.headers.get('www-authenticate')).toBeNull();
  expect(res.headers.get('retry-after')).toBe('5');
  const body = (await res.json()) as { error: { code: number; message: string } };
  expect(body.error).toEqual({
    code: -32002,
    message: 'Service Unavailable: the authorization server could not be reached',
  });
}

describe('when the authorization server cannot answer', () => {
  it('answers 503 (never invalid_token) when its metadata answers 500, backs off, and recovers once it is back', async () => {
    const { keys, time, send, status, lookups } = await clockedSetup();
    keys.mode = 'error';
    await expectUnavailable(await send());
    expect(lookups()).toBe(1);
    // Within the backoff, a failed lookup is not repeated: the answer is 503 at once.
    await expectUnavailable(await send());
    expect(lookups()).toBe(1);
    keys.mode = 'ok';
    await expectUnavailable(await send());
    time.advance(1000);
    expect(await status()).toBe(200);
    expect(lookups()).toBe(2);
  });

  it('doubles the backoff after each failed lookup, up to retryBackoff', async () => {
    const { keys, time, status, lookups } = await clockedSetup({ retryBackoff: '3s' });
    keys.mode = 'error';
    const seen: number[] = [];
    // Failures at 0 s, 1 s, 3 s, 6 s, 9 s: waits of 1, 2, then 3 (the cap), 3.
    for (let second = 0; second <= 9; second++) {
      expect(await status()).toBe(503);
      seen.push(lookups());
      time.advance(1000);
    }
    expect(seen).toEqual([1, 2, 2, 3, 3, 3, 4, 4, 4, 5]);
  });

  it('answers 503 when nothing listens at the issuer', async () => {
    const issuer = await closedPort();
    const server = await protect((resource) => ({ resource, authorizationServers: [issuer] }));
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), {
        authorization: `Bearer ${await token(issuer, server.resource)}`,
      }),
    );
  });

  it('answers 503 within the timeout (plus a margin) when the JWKS hangs', async () => {
    const keys = await keyServer();
    const server = await protect((resource) => ({
      resource,
      authorizationServers: [{ issuer: keys.issuer, jwksUri: keys.jwksUri }],
      timeout: '300ms',
    }));
    keys.mode = 'hang';
    const started = Date.now();
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), {
        authorization: `Bearer ${await token(keys.issuer, server.resource)}`,
      }),
    );
    expect(Date.now() - started).toBeLessThan(300 + 2000);
  });

  it('answers 503 when the metadata names another issuer (it is not trusted)', async () => {
    const keys = await keyServer();
    const alias = keys.issuer.replace('127.0.0.1', 'localhost');
    const server = await protect((resource) => ({ resource, authorizationServers: [alias] }));
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), {
        authorization: `Bearer ${await token(alias, server.resource)}`,
      }),
    );
  });

  it("answers 503 when the metadata names the issuer without the configured trailing slash (health's check fails alike)", async () => {
    const keys = await keyServer();
    const configured = `${keys.issuer}/`;
    const server = await protect((resource) => ({ resource, authorizationServers: [configured] }));
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), {
        authorization: `Bearer ${await token(configured, server.resource)}`,
      }),
    );
    expect(keys.hits.get('/jwks')).toBeUndefined();
  });

  it('answers 503 when the introspection endpoint is down', async () => {
    const keys = await keyServer();
    const endpoint = `${await closedPort()}/introspect`;
    const server = await protect((resource) => ({
      resource,
      authorizationServers: [keys.issuer],
      introspection: { endpoint, clientId: 'rs', clientSecret: 'secret' },
    }));
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), { authorization: 'Bearer opaque-token-1' }),
    );
  });
});

describe('verify()', () => {
  it('resolves to the AuthInfo downstream middleware and tools see', async () => {
    const keys = await keyServer();
    const resource = 'https://mcp.example.com/mcp';
    const middleware = oauth({ resource, authorizationServers: [keys.issuer] });
    cleanup.push(middleware);
    const jwt = await token(keys.issuer, resource);
    const authInfo = await middleware.verify(jwt);
    expect(authInfo).toMatchObject({ token: jwt, clientId: 'c', scopes: [], resource: new URL(resource) });
    expect(authInfo.expiresAt).toBeGreaterThan(Date.now() / 1000);
    expect(authInfo.extra).toMatchObject({ subject: 'u', issuer: keys.issuer, claims: { client_id: 'c' } });
  });

  it('serves a repeat verification from its cache, without fetching keys or checking the signature again', async () => {
    const keys = await keyServer();
    const resource = 'https://mcp.example.com/mcp';
    // metadataTtl 0 and no stale keys: every signature check refetches metadata and keys, so only the token cache
    // can answer.
    const middleware = oauth({
      resource,
      authorizationServers: [keys.issuer],
      metadataTtl: 0,
      jwksMaxStale: 0,
    });
    cleanup.push(middleware);
    const jwt = await token(keys.issuer, resource);
    await middleware.verify(jwt);
    const fetches = keys.hits.get('/jwks');
    keys.mode = 'error';
    await expect(middleware.verify(jwt)).resolves.toMatchObject({ clientId: 'c' });
    expect(keys.hits.get('/jwks')).toBe(fetches);
    // A token not seen before needs the keys, which are now unreachable.
    const err = (await middleware
      .verify(await token(keys.issuer, resource))
      .catch((e: unknown) => e)) as OAuthError;
    expect(err.code).toBe('unavailable');
  });

  it('rejects with an OAuthError carrying the challenge', async () => {
    const keys = await keyServer();
    const middleware = oauth({
      resource: 'https://mcp.example.com/mcp',
      authorizationServers: [keys.issuer],
    });
    cleanup.push(middleware);
    const err = (await middleware.verify('not-a-jwt').catch((e: unknown) => e)) as OAuthError;
    expect(err).toBeInstanceOf(OAuthError);
    expect(err.code).toBe('unauthorized');
    expect(err.status).toBe(401);
    expect(err.bearerError).toBe('invalid_token');
    expect(err.headers['www-authenticate']).toContain('error="invalid_token"');
  });

  it('answers unavailable after close()', async () => {
    const keys = await keyServer();
    const resource = 'https://mcp.example.com/mcp';
    const middleware = oauth({ resource, authorizationServers: [keys.issuer] });
    const jwt = await token(keys.issuer, resource);
    await middleware.verify(jwt);
    await middleware.close();
    const err = (await middleware.verify(jwt).catch((e: unknown) => e)) as OAuthError;
    expect(err.code).toBe('unavailable');
    expect(err.status).toBe(503);
  });
});

describe('the key set (JWKS)', () => {
  it('outage: keys cached, the JWKS server stops; tokens signed with cached keys work for jwksMaxStale, then 503; it comes back and keys refresh without a restart', async () => {
    const { keys, time, status } = await clockedSetup({
      metadataTtl: '1m',
      jwksMaxStale: '5m',
      retryBackoff: '10s',
    });
    expect(await status()).toBe(200);
    expect(keys.hits.get('/jwks')).toBe(1);

    await keys.stop();
    time.advance(30_000); // fresh keys: nothing is fetched
    expect(await status()).toBe(200);
    time.advance(60_000); // 1.5 min: stale, refetched in the background (which fails), the cached keys still verify
    expect(await status()).toBe(200);
    time.advance(4 * 60_000); // 5.5 min: still within metadataTtl + jwksMaxStale
    expect(await status()).toBe(200);
    time.advance(60_000); // 6.5 min: beyond it, a request must wait for keys it cannot get
    expect(await status()).toBe(503);
    expect(await status()).toBe(503);

    await keys.start();
    time.advance(10_000); // past the backoff
    expect(await status()).toBe(200);
    expect(keys.hits.get('/jwks')).toBe(2);
  });

  /** A key server whose metadata moves `jwks_uri` to a set holding only `k2`, once the first token (k1) passed. */
  async function movingKeySet(options: Partial<OAuthOptions>) {
    const setup = await clockedSetup(options);
    const { keys, server, time } = setup;
    const next = await generateKeyPair('ES256', { extractable: true });
    keys.nextKeys = [{ ...(await exportJWK(next.publicKey)), kid: 'k2' }];
    expect(await setup.status()).toBe(200);
    keys.jwksUri = `${keys.issuer}/jwks-next`;
    return { ...setup, k2: () => token(keys.issuer, server.resource, time.now, 'k2', next.privateKey) };
  }

  it('picks up a jwks_uri that moved in the metadata once the metadata expires', async () => {
    const { keys, time, status, k2 } = await movingKeySet({ metadataTtl: '1m' });
    time.advance(61_000);
    // Stale keys still verify k1 while the refetch reads the new metadata and the moved key set.
    expect(await status()).toBe(200);
    await waitFor(() => (keys.hits.get('/jwks-next') ?? 0) === 1, 'the moved key set to be fetched');
    expect(await status(await k2())).toBe(200);
  });

  it('refetches the metadata too when a token names an unknown key (a rotation with a moved jwks_uri)', async () => {
    const { time, status, k2 } = await movingKeySet({ jwksCooldown: '30s' });
    // Within the cooldown an unknown key is just unknown; after it, the keys and the metadata are read again.
    expect(await status(await k2())).toBe(401);
    time.advance(31_000);
    expect(await status(await k2())).toBe(200);
  });

  it('answers 503 for a JWKS over 256 KiB, and for a JWKS that redirects (not followed)', async () => {
    const big = createServer((req, res) => {
      if (req.url === '/moved') {
        res.writeHead(302, { location: '/big' }).end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [publicJwk], pad: 'x'.repeat(300 * 1024) }));
    });
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
    const origin = `http://127.0.0.1:${(big.address() as AddressInfo).port}`;
    cleanup.push({ close: () => new Promise<void>((resolve) => big.close(() => resolve())) });
    for (const path of ['/big', '/moved']) {
      const issuer = 'https://as.example';
      const server = await protect((resource) => ({
        resource,
        authorizationServers: [{ issuer, jwksUri: `${origin}${path}` }],
      }));
      await expectUnavailable(
        await postJsonRpc(server.url, initializeRequest(), {
          authorization: `Bearer ${await token(issuer, server.resource)}`,
        }),
      );
    }
  });

  it('answers 503 without fetching when the metadata names an http jwks_uri on a host that is not loopback', async () => {
    const keys = await keyServer();
    // 0.0.0.0 is not a loopback name, yet a connection to it reaches this machine's key server: were the rule
    // missing, the keys would be fetched from it.
    keys.jwksUri = keys.jwksUri.replace('127.0.0.1', '0.0.0.0');
    const server = await protect((resource) => ({ resource, authorizationServers: [keys.issuer] }));
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), {
        authorization: `Bearer ${await token(keys.issuer, server.resource)}`,
      }),
    );
    expect(keys.hits.get('/.well-known/openid-configuration')).toBe(1);
    expect(keys.hits.get('/jwks')).toBeUndefined();
  });

  it('answers 503 without sending the client secret when the metadata names an http introspection_endpoint', async () => {
    const keys = await keyServer();
    let calls = 0;
    const sink = createServer((_req, res) => {
      calls++;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    cleanup.push({ close: () => new Promise<void>((resolve) => sink.close(() => resolve())) });
    // Reachable through 0.0.0.0, which is not a loopback name: were the rule missing, the secret would be sent.
    const port = (sink.address() as AddressInfo).port;
    keys.metadata = { introspection_endpoint: `http://0.0.0.0:${port}/token/introspection` };
    const server = await protect((resource) => ({
      resource,
      authorizationServers: [keys.issuer],
      introspection: { clientId: 'rs', clientSecret: 'secret' },
    }));
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), { authorization: 'Bearer opaque-token-1' }),
    );
    expect(calls).toBe(0);
  });
});
