import { callOf } from '@mcp-middleware/core';
import {
  closeAfterEach,
  connectV2Client,
  ERAS,
  startGatedV2Server,
  startV2TestServer,
} from '@mcp-middleware/core/testing/v2';
import { McpServer } from '@modelcontextprotocol/server';
import { describe, expect, it } from 'vitest';
import { type ApiKeyAuthOptions, apiKeyAuth } from './api-key-auth.js';
import { generateApiKey } from './generate.js';
import { MemoryKeyStore } from './key-store.js';

/*
 * auth-apikey on SDK v2, for a 2025-11-25 client and a 2026-07-28 client: behind createMiddlewareHandler({ fetch })
 * around v2's own createMcpHandler, and as a plain Fetch gate in front of v2's handler with none of ours.
 */

const closing = closeAfterEach();

/** `whoami` answers with the identity the tool sees (SDK v2 puts it in `ctx.http.authInfo`). */
function v2Server(): McpServer {
  const server = new McpServer({ name: 'apikey-v2', version: '1.0.0' });
  server.registerTool('whoami', { description: 'Who is calling' }, async (ctx) => ({
    content: [
      {
        type: 'text',
        text: JSON.stringify({
          clientId: ctx.http?.authInfo?.clientId,
          subject: ctx.http?.authInfo?.extra?.['subject'],
          viaCall: callOf(ctx)?.authInfo?.clientId,
        }),
      },
    ],
  }));
  server.registerTool('admin_reset', { description: 'Needs the admin scope' }, async () => ({
    content: [{ type: 'text', text: 'reset' }],
  }));
  return server;
}

function keys() {
  const alice = generateApiKey({ owner: 'alice', scopes: ['read'] });
  return { alice, store: new MemoryKeyStore([alice.record]) };
}

const options = (store: MemoryKeyStore): ApiKeyAuthOptions => ({
  store,
  toolScopes: { tools: { admin_reset: ['admin'] } },
});

async function connect(url: URL, era: 'legacy' | 'modern', key: string) {
  const client = await connectV2Client(url, era, { headers: { 'x-api-key': key } });
  closing.track(client);
  return client;
}

const textOf = (result: { content?: unknown }) => (result.content as Array<{ text: string }>)[0]!.text;

async function rawPost(url: URL, headers: Record<string, string> = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  return { res, body: (await res.json()) as { error?: { code: number; data?: { reason?: string } } } };
}

describe.each(ERAS)('apiKeyAuth on SDK v2 behind createMiddlewareHandler, %s era', (era) => {
  async function start() {
    const { alice, store } = keys();
    const s = await startV2TestServer({
      middleware: [apiKeyAuth(options(store))],
      server: (wrap) => wrap(v2Server()),
    });
    closing.track(s);
    return { s, alice };
  }

  it('lets a valid key through, and the tool sees its identity', async () => {
    const { s, alice } = await start();
    const client = await connect(s.url, era, alice.key);
    const body = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(body).toEqual({ clientId: alice.record.id, subject: 'alice', viaCall: alice.record.id });
  });

  it('answers 401 with a challenge and the reason without a key, or with a wrong one, never echoing it', async () => {
    const { s, alice } = await start();
    const missing = await rawPost(s.url);
    expect(missing.res.status).toBe(401);
    expect(missing.res.headers.get('www-authenticate')).toContain('x-api-key');
    expect(missing.body.error).toMatchObject({ code: -32005, data: { reason: 'missing' } });
    const wrong = `${alice.key.slice(0, -4)}AAAA`;
    const refused = await rawPost(s.url, { 'x-api-key': wrong });
    expect(refused.res.status).toBe(401);
    expect(JSON.stringify(refused.body)).not.toContain(wrong);
    await expect(connect(s.url, era, wrong)).rejects.toThrow();
  });

  it('refuses a tool the key has no scope for with -32003 (forbidden), and the rest still works', async () => {
    const { s, alice } = await start();
    const client = await connect(s.url, era, alice.key);
    await expect(client.callTool({ name: 'admin_reset', arguments: {} })).rejects.toMatchObject({
      code: -32003,
    });
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name)).toEqual(['whoami']);
  });
});

describe.each(ERAS)('apiKeyAuth(...).gate in front of SDK v2’s own handler (none of ours), %s era', (era) => {
  async function start() {
    const { alice, store } = keys();
    const s = await startGatedV2Server(apiKeyAuth(options(store)).gate, v2Server);
    closing.track(s);
    return { s, alice };
  }

  it('hands the key’s AuthInfo to handler.fetch(req, { authInfo }), and the tool sees it', async () => {
    const { s, alice } = await start();
    const client = await connect(s.url, era, alice.key);
    const body = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
    expect(body).toMatchObject({ clientId: alice.record.id, subject: 'alice' });
  });

  it('answers 401 itself for a missing or revoked key, before v2’s handler runs', async () => {
    const { s, alice } = await start();
    const missing = await rawPost(s.url);
    expect(missing.res.status).toBe(401);
    expect(missing.body.error?.data?.reason).toBe('missing');
    const malformed = await rawPost(s.url, { 'x-api-key': 'not-a-key' });
    expect(malformed.res.status).toBe(401);
    await expect(connect(s.url, era, `${alice.key}x`)).rejects.toThrow();
  });
});
