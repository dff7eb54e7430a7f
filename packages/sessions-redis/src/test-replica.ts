/**
 * One replica of a scaled-out MCP server, as the multi-replica tests run it: a real server process. Reads PORT
 * (0 or absent: a free port), REDIS_URL, PREFIX (key prefix) and REPLICA (its name) from the environment and prints
 * `listening on <MCP endpoint URL>` once it serves. `GET /replica` answers the replica's name.
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { Redis } from 'ioredis';
import { redisSessions } from './index.js';
import { scaleTestServer } from './test-server.js';

const name = process.env['REPLICA'] ?? 'replica';
const port = Number(process.env['PORT'] ?? 0);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const prefix = process.env['PREFIX'] ?? 'mcp:';

const redis = new Redis(redisUrl, {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  connectTimeout: 2000,
  retryStrategy: () => 100,
});
redis.on('error', () => {});
const scale = redisSessions({ redis, prefix });

const handler = createMiddlewareHandler({
  server: scaleTestServer(name),
  middleware: [scale],
  eventStore: scale.eventStore,
  // Clients come back fast after a cut stream (the SDK client's own backoff starts at 1 s).
  retryInterval: '200ms',
  routes: [{ path: '/replica', handle: async () => new Response(name) }],
});

const node = await serve(handler, { port, hostname: '127.0.0.1', shutdownSignals: ['SIGTERM'] });
void handler.closed.then(() => redis.quit().catch(() => {}));
console.log(`listening on ${new URL('/mcp', node.url).href}`);
