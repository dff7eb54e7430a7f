import { callOf } from '@mcp-middleware/core';
import { freePort } from '@mcp-middleware/core/testing';
import {
  closeAfterEach,
  connectV2Client,
  ERAS,
  startGatedV2Server,
  startV2TestServer,
} from '@mcp-middleware/core/testing/v2';
import { McpServer } from '@modelcontextprotocol/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { type OAuthMiddleware, oauth } from './oauth.js';
import {
  READ,
  SERVICE_CLIENT,
  startAuthorizationServer,
  type TestAuthorizationServer,
  WRITE,
} from './test-fixtures.js';

/*
 * auth-oauth on SDK v2 with tokens from a real authorization server (oidc-provider, in-process), for a 2025-11-25
 * client and a 2026-07-28 client: behind createMiddlewareHandler({ fetch }) around v2's own createMcpHandler, and as
 * a plain Fetch gate in front of v2's handler with none of ours (as v2's requireBearerAuth is used).
 */

let as: TestAuthorizationServer;
beforeAll(async () => {
  as = await startAuthorizationServer();
});
afterAll(() => as.close());

const closing = closeAfterEach();

function v2Server(): McpServer {
  const server = new McpServer({ name: 'oauth-v2', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who is calling' }, async (ctx) => ({
    content: [
      {
        type: 'text',
        text: JSON.stringify({ clientId: ctx.http?.authInfo?.clientId, scopes: ctx.http?.authInfo?.scopes }),
      },
    ],
  }));
  server.registerTool(
    'write_note',
    { description: 'Writes a note', inputSchema: z.object({ text: z.string() }) },
    async ({ text }, ctx) => ({
      content: [
        {
          type: 'text',
          text: `saved ${text} for ${callOf(ctx)?.authInfo?.clientId ?? ctx.http?.authInfo?.clientId}`,
        },
      ],
    }),
  );
  return server;
}

function middlewareFor(resource: string): OAuthMiddleware {
  as.resource = resource;
  return oauth({
    resource,
    authorizationServers: [as.issuer],
    requiredScopes: [READ],
    toolScopes: { tools: { write_note: [WRITE] } },
  });
}

async function setup(kind: 'handler' | 'gate') {
  const port = await freePort();
  const resource = `http://127.0.0.1:${port}/mcp`;
  const middleware = middlewareFor(resource);
  const s =
    kind === 'handler'
      ? await startV2TestServer({ middleware: [middleware], server: (wrap) => wrap(v2Server()), port })
      : await startGatedV2Server(middleware.gate, v2Server, port);
  closing.track(s);
  return { s, resource };
}

async function connect(url: URL, era: 'legacy' | 'modern', token: string) {
  const client = await connectV2Client(url, era, { headers: { authorization: `Bearer ${token}` } });
  closing.track(client);
  return client;
}

const textOf = (result: { content?: unknown }) => (result.content as Array<{ text: string }>)[0]!.text;

const post = (url: URL, headers: Record<string, string>, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });

const writeCall = {
  jsonrpc: '2.0',
  id: 7,
  method: 'tools/call',
  params: { name: 'write_note', arguments: { text: 'x' } },
};

describe.each(['handler', 'gate'] as const)('oauth() on SDK v2 (%s)', (kind) => {
  describe.each(ERAS)('%s era', (era) => {
    it('accepts a JWT access token for this resource, and the tool sees its client and scopes', async () => {
      const { s, resource } = await setup(kind);
      const token = await as.clientCredentialsToken(SERVICE_CLIENT, { resource, scope: `${READ} ${WRITE}` });
      const client = await connect(s.url, era, token);
      const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
      expect(who).toEqual({ clientId: SERVICE_CLIENT.id, scopes: [READ, WRITE] });
      expect(textOf(await client.callTool({ name: 'write_note', arguments: { text: 'hi' } }))).toBe(
        `saved hi for ${SERVICE_CLIENT.id}`,
      );
    });

    it('answers 401 with a challenge pointing at the metadata, which is served without a token', async () => {
      const { s, resource } = await setup(kind);
      const res = await post(s.url, {}, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });
      expect(res.status).toBe(401);
      const challenge = res.headers.get('www-authenticate')!;
      expect(challenge).toMatch(/^Bearer /);
      const metadataUrl = /resource_metadata="([^"]+)"/.exec(challenge)![1]!;
      const metadata = await fetch(metadataUrl);
      expect(metadata.status).toBe(200);
      expect(((await metadata.json()) as { resource: string }).resource).toBe(resource);
      await expect(connect(s.url, era, 'not-a-token')).rejects.toThrow();
    });

    it('answers 403 insufficient_scope for a tool whose scope the token lacks', async () => {
      const { s, resource } = await setup(kind);
      const token = await as.clientCredentialsToken(SERVICE_CLIENT, { resource, scope: READ });
      const res = await post(
        s.url,
        { authorization: `Bearer ${token}`, 'mcp-protocol-version': '2025-11-25' },
        writeCall,
      );
      expect(res.status).toBe(403);
      expect(res.headers.get('www-authenticate')).toMatch(
        /error="insufficient_scope".*scope="[^"]*tools:write/,
      );
      const client = await connect(s.url, era, token);
      await expect(client.callTool({ name: 'write_note', arguments: { text: 'x' } })).rejects.toThrow();
      expect(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).clientId).toBe(
        SERVICE_CLIENT.id,
      );
    });

    it('refuses a token issued for another resource', async () => {
      const { s } = await setup(kind);
      const token = await as.clientCredentialsToken(SERVICE_CLIENT, {
        resource: 'https://other.example/api',
        scope: READ,
      });
      const res = await post(
        s.url,
        { authorization: `Bearer ${token}` },
        { jsonrpc: '2.0', id: 1, method: 'tools/list' },
      );
      expect(res.status).toBe(401);
      expect(JSON.stringify(await res.json())).not.toContain(token);
    });
  });
});
