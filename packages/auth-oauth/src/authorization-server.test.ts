import { connectClient, initializeRequest, postJsonRpc } from '@mcp-middleware/core/testing';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { oauth } from './oauth.js';
import type { IntrospectionOptions } from './options.js';
import {
  HeadlessOAuthProvider,
  OPAQUE_CLIENT,
  OTHER_RESOURCE,
  type ProtectedServer,
  READ,
  RESOURCE_SERVER_CLIENT,
  SERVICE_CLIENT,
  startAuthorizationServer,
  startProtectedServer,
  type TestAuthorizationServer,
  WRITE,
} from './test-fixtures.js';

let as: TestAuthorizationServer;
beforeAll(async () => {
  as = await startAuthorizationServer();
});
afterAll(() => as.close());

const servers: ProtectedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function start(
  introspectionCacheTtl: '30s' | 0 = '30s',
  introspection: Partial<IntrospectionOptions> = {},
): Promise<ProtectedServer> {
  const server = await startProtectedServer(
    (resource) => {
      as.resource = resource;
      return oauth({
        resource,
        authorizationServers: [as.issuer],
        requiredScopes: [READ],
        toolScopes: { tools: { read_notes: [READ], write_note: [WRITE] } },
        introspection: {
          clientId: RESOURCE_SERVER_CLIENT.id,
          clientSecret: RESOURCE_SERVER_CLIENT.secret,
          cacheTtl: introspectionCacheTtl,
          ...introspection,
        },
      });
    },
    // One trusted proxy hop, so the tests can speak for several client addresses.
    { trustProxy: 1 },
  );
  servers.push(server);
  return server;
}

function text(result: unknown): string {
  return (result as { content: Array<{ text: string }> }).content[0]!.text;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('oauth() with oidc-provider as the authorization server', () => {
  describe('a client-credentials JWT access token for this resource', () => {
    it('is accepted, and the tools see its client, subject and scopes', async () => {
      const server = await start();
      const token = await as.clientCredentialsToken(SERVICE_CLIENT, {
        resource: server.resource,
        scope: `${READ} ${WRITE}`,
      });
      expect(token.split('.')).toHaveLength(3);
      const client = await connectClient(server.url, { headers: bearer(token) });
      const who = JSON.parse(text(await client.callTool({ name: 'whoami' })));
      expect(who).toEqual({ clientId: SERVICE_CLIENT.id, subject: SERVICE_CLIENT.id, scopes: [READ, WRITE] });
      expect(text(await client.callTool({ name: 'write_note', arguments: { text: 'hello' } }))).toBe(
        'saved hello',
      );
      await client.close();
    });

    it('is refused with 403 insufficient_scope for a tool whose scope it lacks', async () => {
      const server = await start();
      const token = await as.clientCredentialsToken(SERVICE_CLIENT, {
        resource: server.resource,
        scope: READ,
      });
      const init = await postJsonRpc(server.url, initializeRequest(), bearer(token));
      expect(init.status).toBe(200);
      await init.body?.cancel();
      const sessionId = init.headers.get('mcp-session-id')!;
      const res = await postJsonRpc(
        server.url,
        {
          jsonrpc: '2.0',
          id: 2,
          method: 'tools/call',
          params: { name: 'write_note', arguments: { text: 'x' } },
        },
        { ...bearer(token), 'mcp-session-id': sessionId, 'mcp-protocol-version': '2025-11-25' },
      );
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer error="insufficient_scope", scope="${READ} ${WRITE}", resource_metadata="${server.middleware.resourceMetadataUrl}", error_description="The token lacks a scope this request needs"`,
      );
    });

    it('hides the tools it may not call from tools/list', async () => {
      const server = await start();
      const token = await as.clientCredentialsToken(SERVICE_CLIENT, {
        resource: server.resource,
        scope: READ,
      });
      const client = await connectClient(server.url, { headers: bearer(token) });
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(['read_notes', 'whoami']);
      await client.close();
    });
  });

  describe('a JWT access token for another resource', () => {
    it('gets 401 invalid_token', async () => {
      const server = await start();
      const token = await as.clientCredentialsToken(SERVICE_CLIENT, {
        resource: OTHER_RESOURCE,
        scope: READ,
      });
      const res = await postJsonRpc(server.url, initializeRequest(), bearer(token));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe(
        `Bearer error="invalid_token", scope="${READ}", resource_metadata="${server.middleware.resourceMetadataUrl}", error_description="The token is not meant for this resource"`,
      );
    });
  });

  describe('opaque access tokens (introspection)', () => {
    it('accepts an active token for this resource', async () => {
      const server = await start();
      const token = await as.clientCredentialsToken(OPAQUE_CLIENT, {
        resource: server.resource,
        scope: READ,
      });
      expect(token).not.toContain('.');
      const client = await connectClient(server.url, { headers: bearer(token) });
      const who = JSON.parse(text(await client.callTool({ name: 'whoami' })));
      // Introspection names no subject for a client-credentials token (no end user).
      expect(who).toEqual({ clientId: OPAQUE_CLIENT.id, scopes: [READ] });
      await client.close();
    });

    it('refuses an opaque token for another resource with 401 invalid_token', async () => {
      const server = await start();
      const token = await as.clientCredentialsToken(OPAQUE_CLIENT, { resource: OTHER_RESOURCE, scope: READ });
      const res = await postJsonRpc(server.url, initializeRequest(), bearer(token));
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toContain(
        'error_description="The token is not meant for this resource"',
      );
    });

    it('refuses a revoked token with 401 invalid_token', async () => {
      const server = await start(0);
      const token = await as.clientCredentialsToken(OPAQUE_CLIENT, {
        resource: server.resource,
        scope: READ,
      });
      const before = await postJsonRpc(server.url, initializeRequest(), bearer(token));
      expect(before.status).toBe(200);
      await before.body?.cancel();
      await as.revoke(token, OPAQUE_CLIENT);
      const after = await postJsonRpc(server.url, initializeRequest(), bearer(token));
      expect(after.status).toBe(401);
      expect(after.headers.get('www-authenticate')).toBe(
        `Bearer error="invalid_token", scope="${READ}", resource_metadata="${server.middleware.resourceMetadataUrl}", error_description="The token is not active"`,
      );
    });

    it('reuses an active answer for the cache TTL, so revocation takes effect within introspection.cacheTtl', async () => {
      const server = await start('30s');
      const token = await as.clientCredentialsToken(OPAQUE_CLIENT, {
        resource: server.resource,
        scope: READ,
      });
      const first = await postJsonRpc(server.url, initializeRequest(), bearer(token));
      expect(first.status).toBe(200);
      await first.body?.cancel();
      await as.revoke(token, OPAQUE_CLIENT);
      const cached = await postJsonRpc(server.url, initializeRequest(), bearer(token));
      expect(cached.status).toBe(200);
      await cached.body?.cancel();
    });
  });

  describe('introspection load (random opaque tokens)', () => {
    const from = (address: string, token: string) => ({
      ...bearer(token),
      'x-forwarded-for': address,
    });
    async function statusOf(res: Response): Promise<number> {
      await res.body?.cancel();
      return res.status;
    }

    it('remembers a refusal for negativeCacheTtl: the same unknown token sent again costs no call', async () => {
      const server = await start(0, { negativeCacheTtl: '1m', clientLimit: false });
      const before = as.introspections;
      for (let i = 0; i < 3; i++) {
        const res = await postJsonRpc(server.url, initializeRequest(), bearer('not-a-token-anyone-issued'));
        expect(res.headers.get('www-authenticate')).toContain('error_description="The token is not active"');
        expect(await statusOf(res)).toBe(401);
      }
      expect(as.introspections - before).toBe(1);
    });

    it('asks again every time with negativeCacheTtl 0', async () => {
      const server = await start(0, { negativeCacheTtl: 0, clientLimit: false });
      const before = as.introspections;
      for (let i = 0; i < 2; i++) {
        expect(
          await statusOf(await postJsonRpc(server.url, initializeRequest(), bearer('unknown-token'))),
        ).toBe(401);
      }
      expect(as.introspections - before).toBe(2);
    });

    it('limits the introspection calls one client address causes (429 with Retry-After), not other clients', async () => {
      const server = await start('30s', { clientLimit: { calls: 2, per: '1m' }, negativeCacheTtl: '1m' });
      const good = await as.clientCredentialsToken(OPAQUE_CLIENT, { resource: server.resource, scope: READ });
      const before = as.introspections;
      const send = (address: string, token: string) =>
        postJsonRpc(server.url, initializeRequest(), from(address, token));
      expect(await statusOf(await send('192.0.2.1', good))).toBe(200);
      expect(await statusOf(await send('192.0.2.1', 'random-1'))).toBe(401);
      const limited = await send('192.0.2.1', 'random-2');
      expect(limited.status).toBe(429);
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(((await limited.json()) as { error: { message: string } }).error.message).toBe(
        'Too Many Requests: Too many unknown tokens from this client',
      );
      expect(as.introspections - before).toBe(2);
      // Answers already known cost nothing, so they still pass; another address has its own budget.
      expect(await statusOf(await send('192.0.2.1', good))).toBe(200);
      expect(await statusOf(await send('192.0.2.1', 'random-1'))).toBe(401);
      expect(await statusOf(await send('192.0.2.2', 'random-2'))).toBe(401);
      expect(as.introspections - before).toBe(3);
    });
  });

  describe("the SDK client's own OAuth flow (authorization code + PKCE, dynamic registration)", () => {
    it('discovers the metadata from the 401, registers, logs in, and calls a tool; then steps up for a write tool', async () => {
      const server = await start();
      const provider = new HeadlessOAuthProvider(as, 'alice');

      const first = new StreamableHTTPClientTransport(server.url, { authProvider: provider });
      const err = await new Client({ name: 'sdk', version: '1.0.0' }).connect(first).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(UnauthorizedError);
      // The client asked for the scope our 401 named, for our resource.
      const authorization = provider.authorizations[0]!;
      expect(authorization.searchParams.get('scope')).toBe(READ);
      expect(authorization.searchParams.get('resource')).toBe(server.resource);
      expect(authorization.searchParams.get('code_challenge_method')).toBe('S256');
      await first.finishAuth(provider.lastCode!);
      expect(provider.clientInformation()?.client_id).toBeTruthy();

      const transport = new StreamableHTTPClientTransport(server.url, { authProvider: provider });
      const client = new Client({ name: 'sdk', version: '1.0.0' });
      await client.connect(transport);
      const who = JSON.parse(text(await client.callTool({ name: 'whoami' })));
      expect(who).toEqual({
        clientId: provider.clientInformation()!.client_id,
        subject: 'alice',
        scopes: [READ],
      });

      // Step-up: the write tool needs tools:write; the client re-authorizes with the scope of the 403.
      const refused = await client
        .callTool({ name: 'write_note', arguments: { text: 'stepped up' } })
        .catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(UnauthorizedError);
      expect(provider.authorizations).toHaveLength(2);
      expect(provider.authorizations[1]!.searchParams.get('scope')).toBe(`${READ} ${WRITE}`);
      await transport.finishAuth(provider.lastCode!);
      expect(provider.tokens()?.scope?.split(' ').sort()).toEqual([READ, WRITE]);

      const saved = await client.callTool({ name: 'write_note', arguments: { text: 'stepped up' } });
      expect(text(saved)).toBe('saved stepped up');
      expect(JSON.parse(text(await client.callTool({ name: 'read_notes' })))).toEqual(['stepped up']);
      await client.close();
    });
  });
});
