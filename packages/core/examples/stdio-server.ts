/**
 * The same RPC middleware over stdio, as Claude Desktop launches local servers: wrap the server, connect as usual.
 * Logs go to stderr; stdout belongs to the protocol.
 */
import { type Middleware, wrapServer } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';

const audit: Middleware = {
  name: 'audit',
  async rpc(call, next) {
    const result = await next();
    console.error(JSON.stringify({ method: call.method, tool: call.toolName, ok: !result.error }));
    return result;
  },
};

const server = new McpServer({ name: 'stdio-example', version: '1.0.0' });
server.registerTool('ping', { description: 'Answers pong' }, async () => ({
  content: [{ type: 'text', text: 'pong' }],
}));
await wrapServer(server, { middleware: [audit] }).connect(new StdioServerTransport());
