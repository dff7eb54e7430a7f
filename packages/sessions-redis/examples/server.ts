/**
 * One replica of an MCP server that scales out behind a load balancer: SSE streams any replica can resume with
 * Last-Event-ID, and list changes that reach the clients of every replica. Run several with the same REDIS_URL:
 *   PORT=3001 REDIS_URL=redis://127.0.0.1:6379 node --conditions=mcp-middleware-source --import tsx examples/server.ts
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { redisSessions } from '@mcp-middleware/sessions-redis';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Redis } from 'ioredis';
import { z } from 'zod';

// Fail fast while Redis is away: nothing queues; streams go on unstored and notifications stay on this replica.
const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
});
redis.on('error', (error) => console.error('redis:', error.message));

const scale = redisSessions({ redis, prefix: 'myapp:', records: { replicaId: process.env['HOSTNAME'] } });

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'scaled', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'report',
      { description: 'Builds a report, with progress', inputSchema: { pages: z.number().int().max(100) } },
      async ({ pages }, extra) => {
        for (let page = 1; page <= pages; page++) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken: extra._meta?.progressToken ?? 0, progress: page, total: pages },
          });
        }
        return { content: [{ type: 'text', text: `${pages} pages` }] };
      },
    );
    server.registerTool('reload_tools', { description: 'After a shared config change' }, async () => {
      // Every session on every replica hears it (this replica's at once, the others through Redis).
      await scale.notify({ method: 'notifications/tools/list_changed' });
      return { content: [{ type: 'text', text: 'clients told to list tools again' }] };
    });
    return server;
  },
  middleware: [scale],
  eventStore: scale.eventStore,
  sessions: { store: scale.sessions },
  retryInterval: '1s',
  cors: { origins: ['https://app.example'] },
});

// Serve once the client is connected: with no offline queue, a session started before that keeps no record (served
// by this replica alone until its first touch), so its next request on another replica would get 404.
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
await serve(handler, { port: Number(process.env['PORT'] ?? 3000), shutdownSignals: ['SIGTERM', 'SIGINT'] });
void handler.closed.then(() => redis.quit());
