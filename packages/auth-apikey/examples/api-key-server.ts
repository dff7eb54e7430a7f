/**
 * An MCP server that only answers callers with an API key, served on 127.0.0.1:3000.
 *
 *   npx -p @mcp-middleware/auth-apikey mcp-middleware-apikey --owner alice --scope read --json > alice.json
 *   API_KEYS_FILE=records.json node --import tsx examples/api-key-server.ts
 *
 * records.json is a JSON array of records (the "record" part of what the command prints). Without API_KEYS_FILE
 * the example makes one key for a demo user and prints it once.
 */
import { readFile } from 'node:fs/promises';
import { type ApiKeyRecord, apiKeyAuth, generateApiKey, MemoryKeyStore } from '@mcp-middleware/auth-apikey';
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

async function loadRecords(): Promise<ApiKeyRecord[]> {
  const file = process.env['API_KEYS_FILE'];
  if (file) return JSON.parse(await readFile(file, 'utf8')) as ApiKeyRecord[];
  const { key, record } = generateApiKey({
    owner: 'demo',
    scopes: ['read'],
    expiresAt: new Date(Date.now() + 86_400_000),
  });
  console.error(`Demo API key (valid for a day, shown once): ${key}`);
  return [record];
}

// Records are checked here: a typo in the file fails at start, naming the record and the field.
const store = new MemoryKeyStore(await loadRecords());

const auth = apiKeyAuth({
  store,
  // Per-tool scopes: callers without `admin` neither see nor call `purge_cache`.
  toolScopes: { tools: { purge_cache: ['admin'] }, default: ['read'] },
  // The key id, never the secret: safe to log, and enough to rate limit or alert on.
  onFailure: ({ reason, keyId, clientAddress, requestId }) => {
    console.error(JSON.stringify({ msg: 'api key refused', reason, keyId, clientAddress, requestId }));
  },
});

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'api-key-example', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'greet',
      { description: 'Greets the key owner', inputSchema: { greeting: z.string().default('Hello') } },
      async ({ greeting }, extra) => ({
        // extra.authInfo is what apiKeyAuth made: clientId = key id, extra.owner / extra.tenant.
        content: [{ type: 'text', text: `${greeting}, ${String(extra.authInfo?.extra?.['owner'])}` }],
      }),
    );
    server.registerTool('purge_cache', { description: 'Admins only' }, async () => ({
      content: [{ type: 'text', text: 'purged' }],
    }));
    return server;
  },
  middleware: [auth],
});

const { url } = await serve(handler, { port: 3000, shutdownSignals: ['SIGINT', 'SIGTERM'] });
console.error(`MCP endpoint: ${new URL('/mcp', url)} (send the key as x-api-key or Authorization: Bearer)`);
