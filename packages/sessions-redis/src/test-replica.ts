/**
 * One replica of a scaled-out MCP server, as the multi-replica tests run it: a real server process. Reads PORT
 * (0 or absent: a free port), REDIS_URL, PREFIX (key prefix) and REPLICA (its name) from the environment and prints
 * `listening on <MCP endpoint URL>` once it serves. `GET /replica` answers the replica's name.
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
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
  sessions: { store: scale.sessions },
  // Clients come back fast after a cut stream (the SDK client's own backoff starts at 1 s).
  retryInterval: '200ms',
  routes: [
    { path: '/replica', handle: async () => new Response(name) },
    { path: '/takeover', methods: ['POST'], handle: (req) => takeOver(req) },
  ],
});

/**
 * Finishes a `countdown` whose replica died, as a durable job runner would: reads how far the dead replica's stream
 * in Redis got, and writes the remaining progress events and the result into that same stream, where a client that
 * resumes with Last-Event-ID (on any replica) finds them. Body: `{ "sessionId": "..." }`.
 */
async function takeOver(req: Request): Promise<Response> {
  const { sessionId } = (await req.json()) as { sessionId: string };
  // Every SCAN step: a shared Redis may hold more keys than one step looks at.
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${prefix}events:{${sessionId}/*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  // Streams only, not the marks beside them.
  for (const key of keys.filter((k) => k.endsWith('}'))) {
    const [last] = await redis.xrevrange(key, '+', '-', 'COUNT', 1);
    const message = JSON.parse(last?.[1][1] ?? '{}') as {
      method?: string;
      params?: { progressToken: string | number; progress: number; total: number };
    };
    if (message.method !== 'notifications/progress' || !message.params) continue;
    const { progressToken, progress, total } = message.params;
    const streamId = key.slice(`${prefix}events:{`.length, -1);
    for (let step = progress + 1; step <= total; step++) {
      await scale.eventStore.storeEvent(streamId, {
        jsonrpc: '2.0',
        method: 'notifications/progress',
        params: { progressToken, progress: step, total, message: `step ${step} on ${name}` },
      });
    }
    const result: JSONRPCMessage = {
      jsonrpc: '2.0',
      id: progressToken,
      result: { content: [{ type: 'text', text: `counted to ${total}, finished on ${name}` }] },
    };
    await scale.eventStore.storeEvent(streamId, result);
    return Response.json({ streamId, from: progress + 1, to: total });
  }
  return Response.json({ error: 'no countdown to take over' }, { status: 404 });
}

// Serve only once the command client is connected: with `enableOfflineQueue: false` a command sent before that fails
// at once, so a session started in that window would keep no record (served by this replica alone until its first
// touch), and the next request landing on another replica would get 404.
if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
const node = await serve(handler, { port, hostname: '127.0.0.1', shutdownSignals: ['SIGTERM'] });
void handler.closed.then(() => redis.quit().catch(() => {}));
console.log(`listening on ${new URL('/mcp', node.url).href}`);
