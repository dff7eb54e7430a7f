/**
 * An MCP server with liveness and readiness probes, a Redis dependency, startup gating and a graceful drain.
 *
 *   REDIS_URL=redis://127.0.0.1:6379 node --import tsx examples/server.ts
 *   curl -i http://127.0.0.1:3000/readyz
 *   kill -TERM <pid>    # readiness fails, in-flight calls finish, then the process exits
 *
 * Set OAUTH_ISSUER to also check that your authorization server's metadata is reachable.
 */
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { type HealthCheck, health, oauthServerCheck, redisCheck } from '@mcp-middleware/health';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Redis } from 'ioredis';
import { z } from 'zod';

// Fail fast while Redis is down, so the readiness check reports it instead of queueing pings.
const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  maxRetriesPerRequest: 1,
  connectTimeout: 1000,
  commandTimeout: 500,
});
redis.on('error', () => {}); // reported by /readyz instead

const checks: HealthCheck[] = [redisCheck(redis)];
const issuer = process.env['OAUTH_ISSUER'];
if (issuer) checks.push(oauthServerCheck(issuer, { timeout: '2s' }));

let warmedUp = false;
const probes = health({
  checks,
  // Not ready until the cache is warm; checked until it passes once.
  startupChecks: [
    { name: 'warmup', check: () => (warmedUp ? undefined : { status: 'fail', output: 'warming' }) },
  ],
  version: '1',
  releaseId: process.env['RELEASE_ID'] ?? 'dev',
  drainTimeout: '20s',
  // Let the load balancer see the failing probe before new requests are refused.
  drainDelay: process.env['NODE_ENV'] === 'production' ? '5s' : 0,
});

const handler = createMiddlewareHandler({
  server: ({ jsonSchemaValidator }) => {
    const server = new McpServer({ name: 'health-example', version: '1.0.0' }, { jsonSchemaValidator });
    server.registerTool(
      'visit',
      { description: 'Counts visits to a page', inputSchema: { page: z.string() } },
      async ({ page }) => {
        const visits = await redis.incr(`visits:${page}`);
        return { content: [{ type: 'text', text: `${page} has had ${visits} visits` }] };
      },
    );
    return server;
  },
  middleware: [probes],
});

// Closing the handler (what the drain does) also closes the HTTP server and, here, Redis.
void handler.closed.then(() => redis.quit());
const { url } = await serve(handler, { port: Number(process.env['PORT'] ?? 3000) });
setTimeout(() => {
  warmedUp = true;
}, 2000);
console.error(
  `MCP endpoint: ${new URL('/mcp', url)}; probes: ${new URL('/livez', url)}, ${new URL('/readyz', url)}`,
);
