/**
 * The "before" servers of overhead.ts's `r1:*` arms: release 1 of this project (commit e9abcba), run from its BUILT
 * packages. Plain Node ESM, so it runs inside the release-1 checkout without tsx: `release1-setup.mjs` copies it to
 * `<release1>/bench/`, a workspace package there whose dependencies resolve the imports below. `errors` is not
 * among that package's dependencies in release 1, so it is imported from its `dist/` by path.
 *
 *   node <release1>/bench/release1-server.mjs --child <mode>
 *
 * Speaks overhead.ts's child protocol: sends `{ started: { port, headers } }` once listening; answers the message
 * `'cpu'` with `{ cpu }` (user + system µs from process.cpuUsage()); `'heap'` prints the heap after a GC; exits on
 * SIGINT. Run without IPC it prints the port and headers instead.
 *
 * Modes (the same servers as today's arms of the same names, so every row of issue 14's table has its "before"):
 * - `bare`: the SDK's WebStandardStreamableHTTPServerTransport with a session map behind @hono/node-server,
 *   exactly like overhead.ts's bare arm (release 1's lockfile: the same SDK and @hono/node-server versions);
 * - `core`: release 1's `createMcpHandler` with no middleware, served by its `serve()`;
 * - `stack`: release 1's equivalents of bench/stack.ts's full stack (see fullStack() for the differences);
 * - `stack-oauth`: the same with `oauth()` (a local issuer, one token verified once, then cached) for the API key;
 * - `only:logger`, `only:apikey`, `only:oauth`, `only:limit`, `only:errors`: one package alone;
 * - `core-stateless`, `stack-stateless`: `sessions: false` (a server per request), as today's arms of those names.
 */
import { randomUUID } from 'node:crypto';
import { openSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { serve as honoServe } from '@hono/node-server';
import { apiKeyAuth, generateApiKey, MemoryKeyStore } from '@mcp-middleware/auth-apikey';
import { oauth } from '@mcp-middleware/auth-oauth';
import { createMcpHandler, serve } from '@mcp-middleware/core';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { MemoryStore, rateLimit } from '@mcp-middleware/ratelimit-redis';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
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

/** A local issuer (discovery and JWKS on loopback) and one signed token, as bench/stack.ts's `localIssuer()`. */
async function localIssuer() {
  const resource = 'http://127.0.0.1/mcp';
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench', alg: 'ES256' };
  const http = createServer();
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  http.unref();
  const issuer = `http://127.0.0.1:${http.address().port}`;
  http.on('request', (req, res) => {
    res.setHeader('content-type', 'application/json');
    if (req.url === '/.well-known/oauth-authorization-server')
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
    else if (req.url === '/jwks') res.end(JSON.stringify({ keys: [jwk] }));
    else res.writeHead(404).end('{}');
  });
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ client_id: 'bench', scope: 'read' })
    .setProtectedHeader({ alg: 'ES256', kid: 'bench', typ: 'at+jwt' })
    .setIssuer(issuer)
    .setAudience(resource)
    .setSubject('bench')
    .setIssuedAt(now)
    .setJti(randomUUID())
    .setExpirationTime(now + 3600)
    .sign(privateKey);
  return { middleware: oauth({ resource, authorizationServers: [issuer] }), token };
}

/**
 * Release 1's version of bench/stack.ts's `fullStack(mode)`, in the same order with the same options, except:
 * - `jsonLogger`: release 1 takes no path and does not batch lines (no `batchLines`); it gets a descriptor of
 *   /dev/null (opened here) and writes each line as it is made, synchronously (`pino.destination({ fd, sync: true })`,
 *   its only mode for a descriptor). Today's stack gives the path and its logger batches the lines of a turn.
 * - `apiKeyAuth`, `oauth`, `rateLimit` (memory store, limit 1,000,000 per minute per client) and `errors`
 *   (timeout 30 s): the same options as today.
 */
async function fullStack(mode) {
  const { key, record } = generateApiKey({ owner: 'bench', scopes: ['read'] });
  const keyHeader = { authorization: `Bearer ${key}` };
  const logger = () => jsonLogger({ destination: openSync('/dev/null', 'a') });
  const apiKey = () => apiKeyAuth({ store: new MemoryKeyStore([record]) });
  const limit = () =>
    rateLimit({
      policies: [{ name: 'per-client', limit: 1_000_000, window: '1m' }],
      store: new MemoryStore(),
    });
  const timeouts = () => errors({ timeout: '30s' });
  if (mode === 'only:oauth' || mode === 'stack-oauth') {
    const { middleware, token } = await localIssuer();
    const headers = { authorization: `Bearer ${token}` };
    if (mode === 'only:oauth') return { middleware: [middleware], headers };
    return { middleware: [logger(), middleware, limit(), timeouts()], headers };
  }
  if (mode.startsWith('only:')) {
    const one = { logger, apikey: apiKey, limit, errors: timeouts }[mode.slice(5)];
    if (!one) throw new TypeError(`release1-server: unknown mode ${JSON.stringify(mode)}`);
    return { middleware: [one()], headers: mode === 'only:apikey' ? keyHeader : {} };
  }
  return { middleware: [logger(), apiKey(), limit(), timeouts()], headers: keyHeader };
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
  const stateless = mode.endsWith('-stateless');
  const kind = stateless ? mode.slice(0, -'-stateless'.length) : mode;
  if (
    kind === 'core' ||
    kind === 'stack' ||
    (!stateless && (mode === 'stack-oauth' || mode.startsWith('only:')))
  ) {
    const { middleware, headers } =
      kind === 'core' ? { middleware: [], headers: {} } : await fullStack(stateless ? 'stack' : mode);
    const handler = createMcpHandler({
      server: ({ jsonSchemaValidator }) => makeServer({ jsonSchemaValidator }),
      middleware,
      ...(stateless ? { sessions: false } : {}),
    });
    const { url } = await serve(handler, { port: 0 });
    // Stateless: no session to open, every request stands alone (a 2025-11-25 client's), as today's arms.
    return { port: Number(url.port), headers, ...(stateless ? { era: 'legacy' } : {}) };
  }
  throw new TypeError(`release1-server: unknown mode ${JSON.stringify(mode)}`);
}

async function main() {
  const { values } = parseArgs({ options: { child: { type: 'string' } } });
  if (!values.child)
    throw new TypeError('release1-server: usage: release1-server.mjs --child <mode> (see the modes above)');
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
