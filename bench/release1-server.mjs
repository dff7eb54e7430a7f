/**
 * The "before" servers of overhead.ts's `r1:*` arms: release 1 of this project (commit e9abcba), run from its BUILT
 * packages. Plain Node ESM, so it runs inside the release-1 checkout without tsx: `release1-setup.mjs` copies it to
 * `<release1>/bench/`, a workspace package there whose dependencies resolve the imports below. `errors` is not
 * among that package's dependencies in release 1, so it is imported from its `dist/` by path.
 *
 *   node <release1>/bench/release1-server.mjs --child bare|core|stack
 *
 * Speaks overhead.ts's child protocol: sends `{ started: { port, headers } }` once listening; answers the message
 * `'cpu'` with `{ cpu }` (user + system µs from process.cpuUsage()); `'heap'` prints the heap after a GC; exits on
 * SIGINT. Run without IPC it prints the port and headers instead.
 *
 * Modes (the same servers as today's `bare`, `core` and `stack` arms):
 * - `bare`: the SDK's WebStandardStreamableHTTPServerTransport with a session map behind @hono/node-server,
 *   exactly like overhead.ts's bare arm (release 1's lockfile: the same SDK and @hono/node-server versions);
 * - `core`: release 1's `createMcpHandler` with no middleware, served by its `serve()`;
 * - `stack`: release 1's equivalents of bench/stack.ts's full stack (see fullStack() for the differences).
 */
import { randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { serve as honoServe } from '@hono/node-server';
import { apiKeyAuth, generateApiKey, MemoryKeyStore } from '@mcp-middleware/auth-apikey';
import { createMcpHandler, serve } from '@mcp-middleware/core';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { MemoryStore, rateLimit } from '@mcp-middleware/ratelimit-redis';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { z } from 'zod';
// Not a dependency of release 1's bench package: its build, by path.
import { errors } from '../packages/errors/dist/index.js';

function makeServer(options = {}) {
  const server = new McpServer({ name: 'bench', version: '1.0.0' }, options);
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
}

/**
 * Release 1's version of bench/stack.ts's `fullStack('stack')`, in the same order with the same options, except:
 * - `jsonLogger`: release 1 takes no path and does not batch lines (no `batchLines`); it gets a descriptor of
 *   /dev/null (opened here) and writes each line as it is made, synchronously (`pino.destination({ fd, sync: true })`,
 *   its only mode for a descriptor). Today's stack gives the path and its logger batches the lines of a turn.
 * - `apiKeyAuth`, `rateLimit` (memory store, limit 1,000,000 per minute per client) and `errors` (timeout 30 s):
 *   the same options as today.
 */
function fullStack() {
  const { key, record } = generateApiKey({ owner: 'bench', scopes: ['read'] });
  const middleware = [
    jsonLogger({ destination: openSync('/dev/null', 'a') }),
    apiKeyAuth({ store: new MemoryKeyStore([record]) }),
    rateLimit({
      policies: [{ name: 'per-client', limit: 1_000_000, window: '1m' }],
      store: new MemoryStore(),
    }),
    errors({ timeout: '30s' }),
  ];
  return { middleware, headers: { authorization: `Bearer ${key}` } };
}

/** Starts one server; resolves with its port and the headers every request to it needs. */
async function startServer(mode) {
  if (mode === 'bare') {
    // What the SDK's examples do: a session map in front of the web-standard transport.
    const transports = new Map();
    const server = honoServe({
      port: 0,
      hostname: '127.0.0.1',
      fetch: async (req) => {
        const sid = req.headers.get('mcp-session-id');
        const existing = sid ? transports.get(sid) : undefined;
        if (existing) return existing.handleRequest(req);
        const transport = new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => void transports.set(id, transport),
        });
        await makeServer().connect(transport);
        return transport.handleRequest(req);
      },
    });
    await new Promise((r) => server.once('listening', r));
    return { port: server.address().port, headers: {} };
  }
  if (mode === 'core' || mode === 'stack') {
    const { middleware, headers } = mode === 'stack' ? fullStack() : { middleware: [], headers: {} };
    const handler = createMcpHandler({
      server: ({ jsonSchemaValidator }) => makeServer({ jsonSchemaValidator }),
      middleware,
    });
    const { url } = await serve(handler, { port: 0 });
    return { port: Number(url.port), headers };
  }
  throw new TypeError(`release1-server: unknown mode ${JSON.stringify(mode)} (bare, core or stack)`);
}

async function main() {
  const { values } = parseArgs({ options: { child: { type: 'string' } } });
  if (!values.child)
    throw new TypeError('release1-server: usage: release1-server.mjs --child bare|core|stack');
  const started = await startServer(values.child);
  process.once('SIGINT', () => process.exit(0));
  if (!process.send) {
    console.log(`release1-server [${values.child}]: http://127.0.0.1:${started.port}/mcp`, started.headers);
    return;
  }
  process.on('message', (m) => {
    if (m === 'heap') {
      globalThis.gc?.();
      console.error(
        `[r1:${values.child}] heap after gc: ${(process.memoryUsage().heapUsed / 1e6).toFixed(1)} MB`,
      );
      return;
    }
    const { user, system } = process.cpuUsage();
    process.send?.({ cpu: user + system });
  });
  process.send({ started });
}

await main().catch((error) => {
  console.error(error);
  process.exit(1);
});
