/**
 * An MCP server over Streamable HTTP with structured logs: one JSON line per HTTP request and per call on stderr,
 * and a tool that logs through the call-bound logger (a JSON line, plus a log message to the client when the
 * client asked for that level with `logging/setLevel`).
 *
 * Run: node --conditions=mcp-middleware-source --import tsx examples/http-server.ts
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';

const logging = jsonLogger({
  level: 'info',
  logArguments: true,
  redact: ['customer.email'],
});

const handler = createMiddlewareHandler({
  // First, so its lines include what later middleware refuse.
  middleware: [logging],
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer(
      { name: 'orders', version: '1.0.0' },
      // Declaring `logging` lets clients choose a level with logging/setLevel.
      { jsonSchemaValidator, capabilities: { logging: {} } },
    );
    server.registerTool(
      'place_order',
      {
        description: 'Places an order',
        inputSchema: { sku: z.string(), customer: z.object({ email: z.string() }) },
      },
      async ({ sku }, extra) => {
        const log = logging.forCall(extra, server);
        await log.info('checking stock', { sku });
        await log.warning('stock is low', { sku, left: 2 });
        return { content: [{ type: 'text', text: `ordered ${sku} (request ${log.requestId})` }] };
      },
    );
    return server;
  },
});

const node = await serve(handler, { port: 3000, shutdownSignals: ['SIGINT', 'SIGTERM'] });
logging.logger.info({ url: new URL('/mcp', node.url).href }, 'listening');
