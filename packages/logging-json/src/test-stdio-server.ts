/**
 * A stdio MCP server for the stdio test, run as a child process: the SDK's StdioServerTransport, the server wrapped
 * by core's wrapServer, logging with jsonLogger's defaults (stderr).
 */
import { wrapServer } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';
import { jsonLogger } from './index.js';

const logging = jsonLogger({ level: 'debug' });
const server = new McpServer({ name: 'stdio-logging', version: '1.0.0' }, { capabilities: { logging: {} } });
server.registerTool(
  'work',
  { description: 'Logs at debug and warning', inputSchema: { apiKey: z.string() } },
  async ({ apiKey }, extra) => {
    const log = logging.forCall(extra, server);
    await log.debug('starting');
    await log.warning('upstream slow', { apiKey });
    return { content: [{ type: 'text', text: String(log.requestId) }] };
  },
);
await wrapServer(server, { middleware: [logging] }).connect(new StdioServerTransport());
