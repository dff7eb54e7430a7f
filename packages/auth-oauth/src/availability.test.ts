import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { initializeRequest, postJsonRpc } from '@mcp-middleware/core/testing';
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

function token(issuer: string, resource: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: issuer,
    aud: resource,
    exp: now + 60,
    iat: now,
    sub: 'u',
    client_id: 'c',
    scope: '',
  })
    .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
    .sign(privateKey);
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
  it('answers 503 (never invalid_token) when its metadata answers 500, and recovers once it is back', async () => {
    const keys = await keyServer();
    const server = await protect((resource) => ({ resource, authorizationServers: [keys.issuer] }));
    keys.mode = 'error';
    await expectUnavailable(
      await postJsonRpc(server.url, initializeRequest(), {
        authorization: `Bearer ${await token(keys.issuer, server.resource)}`,
      }),
    );
    keys.mode = 'ok';
    const res = await postJsonRpc(server.url, initializeRequest(), {
      authorization: `Bearer ${await token(keys.issuer, server.resource)}`,
    });
    expect(res.status).toBe(200);
    await res.body?.cancel();
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
    // metadataTtl 0: every signature check refetches metadata and keys, so only the token cache can answer.
    const middleware = oauth({ resource, authorizationServers: [keys.issuer], metadataTtl: 0 });
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
