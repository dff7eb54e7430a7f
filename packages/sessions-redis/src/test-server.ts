/**
 * The MCP server the scale-out tests run on every replica (in-process handlers and replica processes alike): tools
 * that say which replica answered, change the tool list, announce a resource update, and count with progress.
 */
import type { ServerFactory } from '@mcp-middleware/core';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SubscribeRequestSchema, UnsubscribeRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

export function scaleTestServer(replica: string): ServerFactory {
  return ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: `replica-${replica}`, version: '1.0.0' }, { jsonSchemaValidator });
    let added = 0;
    server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
      content: [{ type: 'text', text }],
    }));
    server.registerTool('replica', { description: 'Says which replica answers' }, async () => ({
      content: [{ type: 'text', text: replica }],
    }));
    server.registerTool('add_tool', { description: 'Adds a tool to this session' }, async () => {
      // Registering after connect makes the SDK send tools/list_changed on this session.
      server.registerTool(`extra_${++added}`, { description: 'Added at runtime' }, async () => ({
        content: [],
      }));
      return { content: [{ type: 'text', text: `added on ${replica}` }] };
    });
    server.registerTool(
      'touch',
      { description: 'Announces that a resource changed', inputSchema: { uri: z.string() } },
      async ({ uri }) => {
        await server.server.sendResourceUpdated({ uri });
        return { content: [{ type: 'text', text: `touched ${uri}` }] };
      },
    );
    server.registerTool(
      'countdown',
      {
        description: 'Sends `steps` progress notifications, `intervalMs` apart, then answers',
        inputSchema: { steps: z.number().int().min(1).max(1000), intervalMs: z.number().int().min(0) },
      },
      async ({ steps, intervalMs }, extra) => {
        const token = extra._meta?.progressToken;
        for (let step = 1; step <= steps; step++) {
          if (token !== undefined) {
            await extra.sendNotification({
              method: 'notifications/progress',
              params: {
                progressToken: token,
                progress: step,
                total: steps,
                message: `step ${step} on ${replica}`,
              },
            });
          }
          await new Promise((r) => setTimeout(r, intervalMs));
        }
        return { content: [{ type: 'text', text: `counted to ${steps} on ${replica}` }] };
      },
    );
    server.registerResource('note', 'note://a', { description: 'A note' }, async (uri) => ({
      contents: [{ uri: uri.href, text: 'a note' }],
    }));
    server.server.registerCapabilities({ resources: { subscribe: true, listChanged: true } });
    server.server.setRequestHandler(SubscribeRequestSchema, async () => ({}));
    server.server.setRequestHandler(UnsubscribeRequestSchema, async () => ({}));
    return server;
  };
}
