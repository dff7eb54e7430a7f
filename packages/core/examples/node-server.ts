/**
 * A complete MCP server behind core: one tool, a tiny API-key-free "who is calling" middleware, served on
 * 127.0.0.1:3000 with stateful sessions. Run: node --import tsx examples/node-server.ts
 */
import { createMiddlewareHandler, type Middleware, serve } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

/** An RPC middleware: times every tool call and tags the result. */
const timing: Middleware = {
  name: 'timing',
  async rpc(call, next) {
    const result = await next();
    if (call.toolName)
      console.error(`${call.toolName} took ${(performance.now() - call.startedAt).toFixed(1)} ms`);
    return result;
  },
};

const handler = createMiddlewareHandler({
  // Called once per session; pass the shared validator on so sessions are cheap to create.
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'example', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'add',
      { description: 'Adds two numbers', inputSchema: { a: z.number(), b: z.number() } },
      async ({ a, b }) => ({ content: [{ type: 'text', text: String(a + b) }] }),
    );
    return server;
  },
  middleware: [timing],
  sessions: { max: 500, idleTimeout: '15m' },
});

const { url } = await serve(handler, { port: 3000, shutdownSignals: ['SIGINT', 'SIGTERM'] });
console.error(`MCP endpoint: ${new URL('/mcp', url)}`);
