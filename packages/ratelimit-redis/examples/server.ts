/**
 * An MCP server whose limits hold across every instance that shares one Redis: 100 requests a minute per client
 * (HTTP 429 with RateLimit headers), and an expensive tool limited per client on the RPC layer, at a cost.
 * Run: REDIS_URL=redis://127.0.0.1:6379 node --conditions=mcp-middleware-source --import tsx examples/server.ts
 */
import { createMiddlewareHandler, serve, throttled } from '@mcp-middleware/core';
import { RedisStore, rateLimit } from '@mcp-middleware/ratelimit-redis';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Redis } from 'ioredis';
import { z } from 'zod';

// Fail fast while Redis is away: nothing queues, and the limiter decides by its failure policy at once.
const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
});
redis.on('error', (error) => console.error('redis:', error.message));

const limits = rateLimit({
  store: new RedisStore({ client: redis, timeout: '100ms' }),
  policies: [
    // Every HTTP request to the MCP endpoint, per client id (or address before auth).
    { name: 'requests', limit: 100, window: '1m' },
    // The expensive tool: 1000 units a day per client, 10 units a call, counted per call.
    { name: 'render', tools: ['render'], limit: 1000, window: '1d', algorithm: 'fixed-window', cost: 10 },
  ],
  // If Redis is down or slow, keep limiting, per instance, until it is back.
  onStoreFailure: 'local',
  // Called per request while Redis is down: one line per 10 s, with how many were held back.
  onStoreError: throttled('10s', (error, event, suppressed) =>
    console.error(`rate limit store failed (${event.outcome}, ${suppressed} more):`, String(error)),
  ),
});

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'limited', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool('render', { inputSchema: { scene: z.string() } }, async ({ scene }) => ({
      content: [{ type: 'text', text: `rendered ${scene}` }],
    }));
    return server;
  },
  // An auth middleware would go before the limiter, so that limits are per client id.
  middleware: [limits],
  // One proxy in front: believe the address it appends to X-Forwarded-For.
  trustProxy: 1,
});

const { url } = await serve(handler, { port: 3000, shutdownSignals: ['SIGINT', 'SIGTERM'] });
console.error(`MCP endpoint: ${new URL('/mcp', url)}`);
handler.closed.then(() => redis.quit());
