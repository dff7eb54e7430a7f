/**
 * Memory under client churn: the full stack (JSON logs, a per-client rate limit in memory, errors with timeouts,
 * sessions) served to a stream of distinct clients, each from an address of its own (`X-Forwarded-For` behind one
 * trusted proxy): it opens a session, calls a tool, and usually ends the session (one in ten walks away and is left
 * to the idle timeout). The server reports its RSS and its heap after a full GC every 10 s; the steady state must be
 * flat, whatever the number of clients seen (every cache is bounded).
 *
 * New clients arrive at a fixed rate (`--rate` a second), so the number of sessions held settles whatever the
 * machine's speed: about rate x 10 % x 30 s walked-away sessions waiting for the idle timeout.
 *
 *   (after `npm run build`) node --import tsx churn.ts [--seconds 600] [--rate 200] [--concurrency 16]
 */
import { fork } from 'node:child_process';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createMiddlewareHandler, serve } from '@mcp-middleware/core';
import { initializeRequest } from '@mcp-middleware/core/testing';
import { errors } from '@mcp-middleware/errors';
import { jsonLogger } from '@mcp-middleware/logging-json';
import { MemoryStore, rateLimit } from '@mcp-middleware/ratelimit-redis';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import pino from 'pino';
import { z } from 'zod';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '600' },
    concurrency: { type: 'string', default: '16' },
    rate: { type: 'string', default: '200' },
    child: { type: 'boolean', default: false },
  },
});

interface Sample {
  at: number;
  rss: number;
  heap: number;
  sessions: number;
}

if (values.child) {
  const handler = createMiddlewareHandler({
    server: ({ jsonSchemaValidator }) => {
      const server = new McpServer({ name: 'churn', version: '1.0.0' }, { jsonSchemaValidator });
      server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) => ({
        content: [{ type: 'text', text }],
      }));
      return server;
    },
    middleware: [
      jsonLogger({ destination: pino.destination({ dest: '/dev/null', sync: true }) }),
      rateLimit({
        policies: [{ name: 'per-client', limit: 1_000_000, window: '1m' }],
        store: new MemoryStore(),
      }),
      errors({ timeout: '30s' }),
    ],
    trustProxy: 1,
    // Abandoned sessions go after 30 s, so the table holds what 30 s of walk-aways leave behind.
    sessions: { max: 5000, maxPerPrincipal: 5000, idleTimeout: '30s' },
  });
  const { url } = await serve(handler, { port: 0, maxConnectionsPerAddress: false });
  const started = performance.now();
  setInterval(() => {
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    const sample: Sample = {
      at: (performance.now() - started) / 1000,
      rss,
      heap: heapUsed,
      sessions: handler.host.sessions,
    };
    process.send?.({ sample });
  }, 10_000).unref();
  process.send?.({ port: Number(url.port) });
  process.on('message', (m) => m === 'exit' && process.exit(0));
} else {
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  const rate = Number(values.rate);
  const child = fork(fileURLToPath(import.meta.url), ['--child'], {
    execArgv: [...process.execArgv, '--expose-gc'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const samples: Sample[] = [];
  const port = await new Promise<number>((resolve) =>
    child.on('message', (m: { port?: number; sample?: Sample }) => {
      if (m.port) resolve(m.port);
      if (m.sample) {
        samples.push(m.sample);
        const s = m.sample;
        console.log(
          `${s.at.toFixed(0).padStart(5)} s  clients ${String(clients).padStart(7)}  RSS ${(s.rss / 1e6).toFixed(1)} MB  heap ${(s.heap / 1e6).toFixed(1)} MB  sessions ${s.sessions}`,
        );
      }
    }),
  );
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (body: unknown, headers: Record<string, string>, method = 'POST') =>
    new Promise<{ status: number; sessionId?: string }>((resolve, reject) => {
      const text = body === undefined ? '' : JSON.stringify(body);
      const req = request(
        {
          host: '127.0.0.1',
          port,
          path: '/mcp',
          method,
          agent,
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            'content-length': Buffer.byteLength(text),
            ...headers,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, sessionId: res.headers['mcp-session-id'] as string }),
          );
        },
      );
      // A keep-alive connection the server closed as it was reused (ECONNRESET) fails this client, not the run.
      req.on('error', (error: NodeJS.ErrnoException) =>
        error.code === 'ECONNRESET' || error.code === 'EPIPE' ? resolve({ status: 0 }) : reject(error),
      );
      req.end(text);
    });
  let clients = 0;
  let failures = 0;
  const address = (n: number) => `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
  const begin = performance.now();
  const end = begin + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const n = ++clients;
        // Client n arrives n / rate seconds in.
        const due = begin + (n * 1000) / rate - performance.now();
        if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
        const from = { 'x-forwarded-for': address(n) };
        const init = await post(initializeRequest(0), from);
        if (!init.sessionId) {
          failures++;
          continue;
        }
        const session = { ...from, 'mcp-session-id': init.sessionId, 'mcp-protocol-version': '2025-11-25' };
        await post({ jsonrpc: '2.0', method: 'notifications/initialized' }, session);
        const call = await post(
          {
            jsonrpc: '2.0',
            id: 1,
            method: 'tools/call',
            params: { name: 'echo', arguments: { text: 'hi' } },
          },
          session,
        );
        if (call.status !== 200) failures++;
        if (n % 10 !== 0) await post(undefined, session, 'DELETE');
      }
    }),
  );
  agent.destroy();
  child.send('exit');
  // Steady state: the first minute warms caches and the JIT; compare the second minute with the last.
  const window = (from: number, to: number) => samples.filter((s) => s.at >= from && s.at < to);
  const mean = (xs: Sample[], f: (s: Sample) => number) =>
    xs.reduce((a, s) => a + f(s), 0) / (xs.length || 1);
  const early = window(60, 120);
  const late = window(seconds - 60, seconds + 10);
  console.log(`\n${clients} clients in ${seconds} s at ${rate}/s (${failures} failed requests)`);
  console.log(
    `RSS: ${(mean(early, (s) => s.rss) / 1e6).toFixed(1)} MB in the second minute, ${(mean(late, (s) => s.rss) / 1e6).toFixed(1)} MB in the last`,
  );
  console.log(
    `heap after GC: ${(mean(early, (s) => s.heap) / 1e6).toFixed(1)} MB in the second minute, ${(mean(late, (s) => s.heap) / 1e6).toFixed(1)} MB in the last`,
  );
}
