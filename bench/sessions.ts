/**
 * What session records cost (`sessions: { store }` from @mcp-middleware/sessions-redis, Redis at REDIS_URL or
 * 127.0.0.1:6379):
 *   1. restore on a cold replica: a session opened on replica A, its first request sent to replica B, which loads
 *      the record and makes a server for it (p50/p95 over loopback, beside the same request once B holds it);
 *   2. the steady state: tools/call in a session held by the replica, with the store vs without it, interleaved
 *      over rounds in the same run (one client, sequential requests).
 * Three handlers in this process on loopback ports; the client is this process too. Under a minute.
 *
 *   cd bench && node --import tsx sessions.ts [--restores 300] [--seconds 3]
 */
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { deleteKeys } from '@mcp-middleware/core/testing/redis';
import { redisSessions } from '@mcp-middleware/sessions-redis';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { Redis } from 'ioredis';
import { z } from 'zod';

const { values } = parseArgs({
  options: { restores: { type: 'string', default: '300' }, seconds: { type: 'string', default: '3' } },
});
const RESTORES = Number(values.restores);
const SECONDS = Number(values.seconds);
const ROUNDS = 6;
const prefix = `bench:sessions:${process.pid}:`;

const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379', {
  enableOfflineQueue: false,
  maxRetriesPerRequest: 1,
  lazyConnect: true,
});
await redis.connect();

const factory = ({ jsonSchemaValidator }: { jsonSchemaValidator: never }) => {
  const server = new McpServer({ name: 'bench', version: '1.0.0' }, { jsonSchemaValidator });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
    content: [{ type: 'text', text }],
  }));
  return server;
};

async function replica(name: string | undefined): Promise<{ port: number; close(): Promise<void> }> {
  const scale = name ? redisSessions({ redis, prefix, records: { replicaId: name } }) : undefined;
  const handler = createMiddlewareHandler({
    server: factory as never,
    // The same middleware count in both arms (any middleware turns off core's no-middleware fast path): the
    // difference is the store alone.
    middleware: [scale ?? { name: 'placeholder' }],
    sessions: { ...(scale ? { store: scale.sessions } : {}), max: 100_000 },
    enableJsonResponse: true,
  });
  const node = await serve(handler, { port: 0, hostname: '127.0.0.1' });
  return { port: Number(node.url.port), close: () => node.close() };
}

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

function post(port: number, body: unknown, headers: Record<string, string> = {}) {
  const payload = JSON.stringify(body);
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }>((resolve, reject) => {
    const req = request(
      {
        agent,
        host: '127.0.0.1',
        port,
        path: '/mcp',
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(payload),
          ...headers,
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function open(port: number): Promise<Record<string, string>> {
  const init = await post(port, {
    jsonrpc: '2.0',
    id: 1,
    method: 'initialize',
    params: {
      protocolVersion: '2025-11-25',
      capabilities: { sampling: {} },
      clientInfo: { name: 'b', version: '1' },
    },
  });
  const session = {
    'mcp-session-id': String(init.headers['mcp-session-id']),
    'mcp-protocol-version': '2025-11-25',
  };
  await post(port, { jsonrpc: '2.0', method: 'notifications/initialized' }, session);
  return session;
}

const call = (id: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hi' } },
});

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const a = await replica('a');
const b = await replica('b');
const plain = await replica(undefined);
try {
  // 1. Restore on a cold replica.
  const cold: number[] = [];
  const warm: number[] = [];
  for (let i = 0; i < RESTORES + 20; i++) {
    const session = await open(a.port);
    let started = performance.now();
    const first = await post(b.port, call(2), session);
    const coldMs = performance.now() - started;
    if (first.status !== 200) throw new Error(`restore answered ${first.status}: ${first.body}`);
    started = performance.now();
    await post(b.port, call(3), session);
    const warmMs = performance.now() - started;
    if (i >= 20) {
      cold.push(coldMs);
      warm.push(warmMs);
    }
  }
  cold.sort((x, y) => x - y);
  warm.sort((x, y) => x - y);
  console.log(
    `restore on a cold replica (first request, ${RESTORES} sessions): p50 ${percentile(cold, 50).toFixed(2)} ms, ` +
      `p95 ${percentile(cold, 95).toFixed(2)} ms; the next request there: p50 ${percentile(warm, 50).toFixed(2)} ms, ` +
      `p95 ${percentile(warm, 95).toFixed(2)} ms`,
  );

  // 2. Steady state, interleaved: the same sequential client against a replica with the store, one without, and a
  // second one without (an A/A pair: how far two identical handlers differ on this machine).
  const plain2 = await replica(undefined);
  const arms = [
    { name: 'store', port: a.port, session: await open(a.port), rates: [] as number[] },
    { name: 'plain', port: plain.port, session: await open(plain.port), rates: [] as number[] },
    { name: 'plain2', port: plain2.port, session: await open(plain2.port), rates: [] as number[] },
  ];
  for (let round = 0; round < ROUNDS; round++) {
    // Rotating which arm goes first, so none always runs after another's garbage.
    for (let k = 0; k < arms.length; k++) {
      const arm = arms[(round + k) % arms.length]!;
      const until = performance.now() + (SECONDS * 1000) / arms.length;
      let n = 0;
      while (performance.now() < until) await post(arm.port, call(10 + n++), arm.session);
      arm.rates.push(n / (SECONDS / arms.length));
    }
  }
  await plain2.close();
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  const [store, without, again] = arms.map((arm) => median(arm.rates)) as [number, number, number];
  console.log(
    `steady state tools/call (sequential, held session): with store ${store.toFixed(0)} req/s ` +
      `(${(1e6 / store).toFixed(0)} µs/req), without ${without.toFixed(0)} req/s (${(1e6 / without).toFixed(0)} µs/req), ` +
      `ratio ${(store / without).toFixed(3)}; A/A (a second handler without) ${(again / without).toFixed(3)}`,
  );
} finally {
  await Promise.all([a.close(), b.close(), plain.close()]);
  await deleteKeys(redis, prefix);
  await redis.quit();
  agent.destroy();
}
