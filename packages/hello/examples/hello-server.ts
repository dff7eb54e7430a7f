/**
 * An MCP server whose tools greet their caller, served on 127.0.0.1:3000:
 *
 *   node --conditions=mcp-middleware-source --import tsx examples/hello-server.ts
 *   npx @modelcontextprotocol/inspector --cli http://127.0.0.1:3000/mcp --transport http \
 *     --method tools/call --tool-name greet
 */
// #region usage
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { hello, helloOf } from '@mcp-middleware/hello';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';

const greeter = hello({ greeting: 'Welcome' });

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'greeter', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool('greet', { description: 'Greets whoever calls' }, async (extra) => {
      // What the middleware found reaches the tool through the call context; helloOf() reads it.
      const found = helloOf(extra);
      const text = found ? `${found.greeting} (call ${found.previousCalls + 1})` : 'Hello';
      return { content: [{ type: 'text', text }] };
    });
    return server;
  },
  middleware: [greeter],
});

const node = await serve(handler, { port: 3000, hostname: '127.0.0.1' });
console.error(`listening on ${new URL('/mcp', node.url)}`);
// #endregion usage
