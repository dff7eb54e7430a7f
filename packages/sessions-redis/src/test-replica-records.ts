/**
 * One replica for the session-record tests: a real server process whose sessions any replica can restore. Reads
 * PORT (0 or absent: a free port), REDIS_URL, PREFIX and REPLICA (its name, also its replica id) from the
 * environment; identity comes from the `x-who` header. Prints `listening on <MCP endpoint URL>` once it serves.
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { identifyByHeader } from '@mcp-middleware/core/testing';
import { Redis } from 'ioredis';
import { redisSessions } from './index.js';
import { FAST_FAIL, recordsServer } from './test-records.js';

const name = process.env['REPLICA'] ?? 'replica';
const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', FAST_FAIL);
redis.on('error', () => {});
const scale = redisSessions({
  redis,
  prefix: process.env['PREFIX'] ?? 'mcp:',
  records: { replicaId: name, timeout: '300ms' },
});

const handler = createMiddlewareHandler({
  server: recordsServer(name),
  middleware: [scale, identifyByHeader],
  sessions: { store: scale.sessions, touchInterval: '100ms' },
  routes: [{ path: '/replica', handle: async () => new Response(name) }],
});

// Serve only once the command client is connected: with `enableOfflineQueue: false` a command sent before that fails
// at once, so a session started in that window would keep no record (served by this replica alone until its first
// touch), and the next request landing on another replica would get 404.
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
const node = await serve(handler, {
  port: Number(process.env['PORT'] ?? 0),
  hostname: '127.0.0.1',
  shutdownSignals: ['SIGTERM'],
});
void handler.closed.then(() => redis.quit().catch(() => {}));
console.log(`listening on ${new URL('/mcp', node.url).href}`);
