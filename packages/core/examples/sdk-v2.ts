/**
 * SDK v2 (`@modelcontextprotocol/server`): its own createMcpHandler serves 2025-11-25 and 2026-07-28 clients; core
 * runs the HTTP layer around it and the RPC layer in every server its factory makes. A tool reads what the
 * middleware found through `callOf(ctx)`.
 */
import { callOf, createKey, createMiddlewareHandler, type Middleware, serve } from '@mcp-middleware/core';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';

const REGION = createKey<string>('example/region');

const region: Middleware = {
  name: 'region',
  async rpc(call, next) {
    call.set(REGION, call.http?.clientAddress?.startsWith('10.') ? 'internal' : 'public');
    return next();
  },
};

function buildServer(): McpServer {
  const server = new McpServer({ name: 'v2-example', version: '1.0.0' });
  server.registerTool('where', { description: 'Says where the caller is' }, async (ctx) => ({
    content: [{ type: 'text', text: callOf(ctx)?.get(REGION) ?? 'unknown' }],
  }));
  return server;
}

// SDK v2 calls the factory per request, by which time `handler` exists.
const sdk = createMcpHandler(() => handler.wrapServer(buildServer()));
const handler = createMiddlewareHandler({ fetch: sdk.fetch, middleware: [region] });
const node = await serve(handler, { port: 3000 });
console.error(`MCP endpoint on ${new URL('/mcp', node.url)}`);
