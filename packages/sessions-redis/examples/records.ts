/**
 * One replica of an MCP server whose sessions any replica can serve: start several (PORT=3001, 3002, ...) behind a
 * load balancer without session affinity. A tool that samples from the client works whichever replica the client's
 * answer reaches.
 * Run: REDIS_URL=redis://127.0.0.1:6379 PORT=3001 node --conditions=mcp-middleware-source --import tsx examples/records.ts
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { redisSessions } from '@mcp-middleware/sessions-redis';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CreateMessageResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { Redis } from 'ioredis';
import { z } from 'zod';

// Fail fast while Redis is away: sessions held here keep working, others get 503 until it is back.
const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
});
redis.on('error', (error) => console.error('redis:', error.message));

const scale = redisSessions({ redis, prefix: 'mcp:', records: { replicaId: `port-${process.env['PORT']}` } });

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'replicated', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'summarize',
      { description: 'Asks the client’s model for a summary', inputSchema: { text: z.string() } },
      async ({ text }, extra) => {
        // On the call's own stream, so the request reaches the client from whichever replica runs the tool.
        const answer = await extra.sendRequest(
          {
            method: 'sampling/createMessage',
            params: {
              messages: [{ role: 'user', content: { type: 'text', text: `Summarize: ${text}` } }],
              maxTokens: 200,
            },
          },
          CreateMessageResultSchema,
        );
        return { content: [answer.content.type === 'text' ? answer.content : { type: 'text', text: '' }] };
      },
    );
    return server;
  },
  middleware: [scale],
  sessions: { store: scale.sessions, idleTimeout: '30m', maxPerPrincipal: 20 },
});

// Serve once the client is connected: with no offline queue, a session started before that keeps no record (served
// by this replica alone until its first touch), so its next request on another replica would get 404.
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
await serve(handler, { port: Number(process.env['PORT'] ?? 3000) });
